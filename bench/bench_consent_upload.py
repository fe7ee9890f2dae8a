"""Consent workbench figure: an enrolment CSV of N rows (default 100,000) through the steward's upload page
over real HTTP (upload + preview, then confirm) against a ``fairgate serve`` process of its own, beside
``fairgate consent enrol`` on the same file into a fresh registry, in the same run.

Makes its own data folders (sample catalog, one steward) and its own file of valid national ids.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.served import PASSWORD, csrf_of, embedded_env, fairgate, free_port, serving
from consent.pseudonyms import taiwan_check_digit


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
            data={"csrf": csrf_of(form.text), "email": "bench@ntu.edu.tw", "password": PASSWORD, "next": "/"},
        )
        assert r.status_code == 303, r.status_code
        csrf = csrf_of(c.get("/steward/consent/upload").text)
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
        port = free_port()
        env = embedded_env(Path(tmp) / "web", port)
        fairgate(env, "load-sample")
        fairgate(env, "user", "add", "bench@ntu.edu.tw", "--role", "steward", "--password-stdin", stdin=PASSWORD + "\n")
        with serving(env) as base:
            dataset = httpx.get(base + "/api/datasets?limit=1").json()["items"][0]["guid"]
            file = Path(tmp) / "enrolments.csv"
            write_enrolments(file, rows, dataset)
            preview, commit, size = _through_the_pages(base, file)
        # The CLI on the same file, into a fresh registry (the command does validation and writing in one).
        cli = fairgate(embedded_env(Path(tmp) / "cli", port), "consent", "enrol", str(file))
        pages = preview + commit
        print(
            f"enrolment CSV, {rows:,} rows ({size / 1e6:.1f} MB), SQLite registry, over HTTP: "
            f"upload + preview {preview:.2f} s, confirm (validate again + write) {commit:.2f} s, "
            f"together {pages:.2f} s | baseline `fairgate consent enrol` on the same file (process start "
            f"included): {cli:.2f} s | ratio {pages / cli:.2f}x"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
