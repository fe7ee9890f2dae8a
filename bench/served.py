"""What the over-HTTP benchmarks share: a ``fairgate`` command run to its end, and a real ``fairgate serve``
on the embedded default in a folder of its own, started, waited for and stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PASSWORD = "correct horse battery staple"
FAIRGATE = str(Path(sys.executable).parent / "fairgate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_env(folder: Path, port: int) -> dict[str, str]:
    """This environment with fairgate on its embedded default in ``folder`` (no outside database or token)."""
    env = {**os.environ, "FAIRGATE_DATA_DIR": str(folder), "FAIRGATE_PORT": str(port)}
    for name in ("FAIRGATE_DATABASE_URL", "FAIRGATE_CONSENT_DATABASE_URL", "FAIRGATE_STEWARD_TOKEN"):
        env.pop(name, None)
    return env


def fairgate(env: dict[str, str], *args: str, stdin: str | None = None) -> float:
    """Run ``fairgate ARGS`` to its end (failing loudly); the seconds it took, process start included."""
    started = time.perf_counter()
    subprocess.run([FAIRGATE, *args], env=env, input=stdin, text=True, check=True, capture_output=True)
    return time.perf_counter() - started


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@contextmanager
def serving(env: dict[str, str], ready: str = "/sign-in") -> Iterator[str]:
    """``fairgate serve`` with ``env``, yielded as its base URL once ``ready`` answers 200; stopped after."""
    server = subprocess.Popen(
        [FAIRGATE, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{env['FAIRGATE_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + ready).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"fairgate serve did not start (exit {server.poll()})")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
