"""Serve an ASGI app from several worker processes that the kernel balances (``SO_REUSEPORT``).

uvicorn's own ``--workers`` shares one listening socket between its workers, and whichever worker
wakes first accepts every connection waiting: a burst of keep-alive clients (a load balancer's
pool, a batch import with 32 connections) lands on one worker while the others idle. Here each
worker binds its own socket to the same address with ``SO_REUSEPORT``, so the kernel spreads
connections over them by address hash. A supervisor restarts a worker that dies and stops all of
them on SIGINT/SIGTERM.

A worker never outlives its supervisor, even one killed with SIGKILL or by the OOM killer: the kernel
sends it SIGKILL when its parent dies (``PR_SET_PDEATHSIG``, :mod:`catalog.worker_lifetime`), and where
that is not available it watches a pipe whose other end only the supervisor holds.

The workers are spawned (not forked): each builds its app from ``factory`` in a fresh interpreter,
so no database connection or index handle is shared between processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from catalog.worker_lifetime import die_with_parent


class ServingError(RuntimeError):
    """The workers cannot be started (bad address, no SO_REUSEPORT, a crash loop)."""


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may bind too (``SO_REUSEPORT``)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ServingError(
            "several workers need SO_REUSEPORT, which this system lacks; run one worker per port behind a proxy"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServingError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --host/--port") from exc
    return sock


def _ensure_free(host: str, port: int) -> None:
    """Refuse a port anything listens on, before starting workers. Probed without ``SO_REUSEPORT``: with it,
    a second server of the same user would join the first one's port and silently take half its traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServingError(
                f"cannot listen on {host}:{port}: {exc.strerror}; stop what listens there or choose another --port"
            ) from exc


def _worker(
    factory: Callable[[], Any], host: str, port: int, log_level: str, parent: int, lifeline: Connection
) -> None:
    """One worker process: its own socket, its own app, one uvicorn server; it ends when ``parent`` does."""
    die_with_parent(parent, lifeline)
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(factory, factory=True, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(
    factory: Callable[[], Any],
    host: str,
    port: int,
    workers: int,
    *,
    log_level: str = "info",
    crash_loop_seconds: float = 5.0,
) -> None:
    """Run ``workers`` processes serving ``factory()`` on ``host:port`` until SIGINT/SIGTERM.

    ``factory`` must be picklable (a module-level function, or a ``functools.partial`` of one with
    picklable arguments): each worker calls it in its own interpreter. A worker that dies is
    restarted, unless it dies within ``crash_loop_seconds`` of starting: then it would only die
    again (bad settings, a database that is down), and the supervisor stops with that error.
    """
    if workers < 1:
        raise ServingError(f"--workers must be at least 1 (got {workers})")
    if port == 0:  # each worker would be given a port of its own
        raise ServingError("several workers need a fixed port; give --port")
    _ensure_free(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = False

    lifelines: dict[int, Connection] = {}  # worker pid -> the supervisor's end of its lifeline pipe

    def start() -> tuple[BaseProcess, float]:
        child_end, own_end = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker, args=(factory, host, port, log_level, os.getpid(), child_end), daemon=False
        )
        process.start()
        child_end.close()  # only the worker holds the reading end: it sees EOF once this process is gone
        assert process.pid is not None
        lifelines[process.pid] = own_end
        return process, time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for i, (process, started) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < crash_loop_seconds:
                    raise ServingError(
                        f"a worker exited with code {process.exitcode} right after starting; "
                        "run with --workers 1 to see its error"
                    )
                if process.pid in lifelines:
                    lifelines.pop(process.pid).close()
                running[i] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight on SIGTERM
        for process, _ in running:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for own_end in lifelines.values():
            own_end.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
