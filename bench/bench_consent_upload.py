"""Consent workbench figure: an enrolment CSV of N rows (default 100,000) through the steward's upload page
over real HTTP (upload + preview, then confirm) against a ``fairgate serve`` process of its own, beside
``fairgate consent enrol`` on the same file into a fresh registry, in the same run.

Makes its own data folders (sample catalog, one steward) and its own file of valid national ids.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from consent.pseudonyms import taiwan_check_digit

PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fairgate(env: dict[str, str], *args: str, stdin: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "fairgate"), *args],
        env=env,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _env(folder: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "FAIRGATE_DATA_DIR": str(folder), "FAIRGATE_PORT": str(port)}
    for name in ("FAIRGATE_DATABASE_URL", "FAIRGATE_CONSENT_DATABASE_URL", "FAIRGATE_STEWARD_TOKEN"):
        env.pop(name, None)
    return env


def write_enrolments(path: Path, rows: int, dataset: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("national_id,institution,dataset,category,case_ids,enrolled_on\n")
        for n in range(rows):
            prefix = f"C{1 + n % 2}{n:07d}"
            out.write(f"{prefix}{taiwan_check_digit(prefix)},INST{n % 7},{dataset},{'ABC'[n % 3]},k{n},2019-01-01\n")


def _through_the_pages(base: str, file: Path) -> tuple[float, float, int]:
    with httpx.Client(base_url=base, timeout=600) as c:
        form = c.get("/sign-in")
        r = c.post(
            "/sign-in",
            data={"csrf": _csrf(form.text), "email": "bench@ntu.edu.tw", "password": PASSWORD, "next": "/"},
        )
        assert r.status_code == 303, r.status_code
        csrf = _csrf(c.get("/steward/consent/upload").text)
        started = time.perf_counter()
        with file.open("rb") as handle:
            r = c.post(
                "/steward/consent/upload",
                data={"csrf": csrf, "kind": "enrolments"},
                files={"file": (file.name, handle, "text/csv")},
            )
        assert r.status_code == 303, (r.status_code, r.text[:300])
        location = r.headers["location"]
        page = c.get(location)
        preview = time.perf_counter() - started
        assert page.status_code == 200 and 'id="commit-form"' in page.text, page.text[:500]
        started = time.perf_counter()
        done = c.post(location + "/commit", data={"csrf": csrf})
        commit = time.perf_counter() - started
        assert done.status_code == 200 and 'id="committed"' in done.text, done.status_code
        return preview, commit, file.stat().st_size


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_consent_upload")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    rows = 5_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = _env(Path(tmp) / "web", port)
        _fairgate(env, "load-sample")
        _fairgate(
            env, "user", "add", "bench@ntu.edu.tw", "--role", "steward", "--password-stdin", stdin=PASSWORD + "\n"
        )
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "fairgate"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/sign-in").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("fairgate serve did not start")
                time.sleep(0.2)
            dataset = httpx.get(base + "/api/datasets?limit=1").json()["items"][0]["guid"]
            file = Path(tmp) / "enrolments.csv"
            write_enrolments(file, rows, dataset)
            preview, commit, size = _through_the_pages(base, file)
        finally:
            server.terminate()
            server.wait(timeout=30)
        # The CLI on the same file, into a fresh registry (the command does validation and writing in one).
        cli = _fairgate(_env(Path(tmp) / "cli", port), "consent", "enrol", str(file))
        pages = preview + commit
        print(
            f"enrolment CSV, {rows:,} rows ({size / 1e6:.1f} MB), SQLite registry, over HTTP: "
            f"upload + preview {preview:.2f} s, confirm (validate again + write) {commit:.2f} s, "
            f"together {pages:.2f} s | baseline `fairgate consent enrol` on the same file (process start "
            f"included): {cli:.2f} s | ratio {pages / cli:.2f}x"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
