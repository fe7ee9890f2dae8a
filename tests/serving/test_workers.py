"""Several worker processes on one SO_REUSEPORT port: connections spread, a dead worker is replaced,
SIGTERM stops them all, a taken port is one clear error; ``fairgate serve --workers`` serves the app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Set
from pathlib import Path

import httpx
import psutil
import pytest

from catalog.serving import ServingError, reuse_port_socket, serve_workers

ROOT = Path(__file__).resolve().parents[2]
STARTUP = 60.0  # seconds to wait for workers to come up; waiting only, nothing is asserted about time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_workers(supervisor: subprocess.Popen[bytes]) -> dict[int, psutil.Process]:
    found: dict[int, psutil.Process] = {}
    for child in psutil.Process(supervisor.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for(supervisor: subprocess.Popen[bytes], workers: int, exclude: Set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + STARTUP
    while True:
        pids = set(_listening_workers(supervisor)) - exclude
        if len(pids) == workers:
            return pids
        if supervisor.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"workers did not come up (supervisor exit {supervisor.poll()})")
        time.sleep(0.1)


def _answering_pids(port: int, connections: int) -> set[int]:
    """Open ``connections`` sockets at once (all held open), ask each which process answers."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    try:
        for s in socks:
            s.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        pids = set()
        for s in socks:
            data = b""
            while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            pids.add(int(data.split(b"\r\n\r\n", 1)[1]))
        return pids
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def supervisor() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    code = (
        "import sys; from catalog.serving import serve_workers; from tests.serving.pid_app import create; "
        "serve_workers(create, '127.0.0.1', int(sys.argv[1]), 2, log_level='warning', crash_loop_seconds=0.5)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=ROOT)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_connections_opened_together_are_spread_over_the_workers(
    supervisor: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = supervisor
    workers = _wait_for(proc, 2)
    # 32 connections hashed over 2 sockets: all on one worker has probability 2**-31.
    assert _answering_pids(port, 32) == workers


def test_a_dead_worker_is_replaced_and_sigterm_stops_every_worker(
    supervisor: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = supervisor
    first = _wait_for(proc, 2)
    time.sleep(0.6)  # past the crash-loop window, so the supervisor restarts instead of giving up
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    replacement = _wait_for(proc, 1, exclude=first)
    assert victim not in _answering_pids(port, 32)
    assert _answering_pids(port, 32) == (first - {victim}) | replacement
    survivors = [psutil.Process(pid) for pid in (first - {victim}) | replacement]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not [p for p in survivors if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_taken_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServingError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*choose another --host/--port"):
            reuse_port_socket("127.0.0.1", port)


def test_a_port_another_reuse_port_server_holds_is_refused_not_shared() -> None:
    # Two servers of one user could both bind with SO_REUSEPORT and split the traffic between them.
    other = reuse_port_socket("127.0.0.1", 0)
    try:
        port = other.getsockname()[1]
        with pytest.raises(ServingError, match=r"stop what listens there or choose another --port"):
            serve_workers(_never_called, "127.0.0.1", port, 2)
    finally:
        other.close()


def test_port_zero_is_refused_since_each_worker_would_get_a_port_of_its_own() -> None:
    with pytest.raises(ServingError, match="need a fixed port; give --port"):
        serve_workers(_never_called, "127.0.0.1", 0, 2)


def _never_called() -> None:
    raise AssertionError("no worker may start on a taken port")


def test_fairgate_serve_with_two_workers_serves_the_catalog(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "FAIRGATE_DATA_DIR": str(tmp_path / "var"), "FAIRGATE_STEWARD_TOKEN": ""}
    env.pop("FAIRGATE_DATABASE_URL", None)
    env.pop("FAIRGATE_CONSENT_DATABASE_URL", None)
    fairgate = Path(sys.executable).with_name("fairgate")
    proc = subprocess.Popen(
        [str(fairgate), "serve", "--workers", "2", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        workers = _wait_for(proc, 2)
        deadline = time.monotonic() + STARTUP
        while True:  # listening comes before the app has finished starting
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/datasets", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["items"] == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        alive = [pid for pid in workers if psutil.pid_exists(pid)]
        assert not [pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _gone(pids: Set[int], bound: float) -> set[int]:
    """The pids of ``pids`` still running (zombies count as gone) after waiting up to ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while True:
        alive = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.add(pid)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def test_every_worker_ends_when_the_supervisor_is_killed(supervisor: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, _port = supervisor
    workers = _wait_for(proc, 2)
    proc.kill()  # SIGKILL: the supervisor runs no clean-up at all
    proc.wait()
    assert _gone(workers, bound=2.0) == set()


def test_the_lifeline_pipe_alone_ends_a_worker_whose_parent_is_killed() -> None:
    # Without the parent-death signal (other systems): only the pipe the worker watches tells it.
    code = (
        "import multiprocessing, os, sys, time\n"
        "from tests.serving.lifeline_child import run\n"
        "if __name__ == '__main__':\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    child_end, own_end = ctx.Pipe(duplex=False)\n"
        "    p = ctx.Process(target=run, args=(os.getpid(), child_end))\n"
        "    p.start(); child_end.close()\n"
        "    print(p.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _gone({child}, bound=0.5) == {child}  # it runs while its parent does
        parent.kill()
        parent.wait()
        assert _gone({child}, bound=2.0) == set()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
