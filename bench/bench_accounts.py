"""Accounts figures: sign-in (argon2id verify) per request, and a page behind a session beside the same
page with no authentication, over real HTTP against a ``fairgate serve`` process of its own.

Makes its own data folder (sample catalog, one user) and prints each figure beside its same-run baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.served import PASSWORD, csrf_of, embedded_env, fairgate, free_port, serving


async def _sign_in(base: str) -> tuple[float, dict[str, str]]:
    """One sign-in through the real form; its POST's seconds and the session cookie."""
    async with httpx.AsyncClient(base_url=base) as c:
        form = await c.get("/sign-in")
        started = time.perf_counter()
        r = await c.post(
            "/sign-in",
            data={"csrf": csrf_of(form.text), "email": "bench@ntu.edu.tw", "password": PASSWORD, "next": "/"},
        )
        took = time.perf_counter() - started
        assert r.status_code == 303, r.status_code
        return took, dict(c.cookies)


async def _get_page(base: str) -> float:
    async with httpx.AsyncClient(base_url=base) as c:
        started = time.perf_counter()
        r = await c.get("/sign-in")
        assert r.status_code == 200
        return time.perf_counter() - started


async def _load(
    base: str, path: str, cookies: dict[str, str], clients: int, per_client: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base, cookies=cookies) as c:
            for _ in range(per_client):
                started = time.perf_counter()
                r = await c.get(path)
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 200, r.status_code

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return time.perf_counter() - started, latencies


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def _measure(base: str, sign_ins: int, clients: int, per_client: int) -> None:
    # Sign-in POSTs one after another (argon2 is the cost) beside GETs of the same form.
    signs = [(await _sign_in(base))[0] for _ in range(sign_ins)]
    plain = [await _get_page(base) for _ in range(sign_ins)]
    sign_ms, plain_ms = statistics.median(signs) * 1000, statistics.median(plain) * 1000
    print(
        f"sign-in over HTTP (argon2id verify + session row), {sign_ins} one after another: "
        f"median {sign_ms:.1f} ms, p95 {_p(signs, 0.95):.1f} ms = {1000 / sign_ms:.0f} sign-ins/s per core"
        f" | baseline GET /sign-in on the same server: median {plain_ms:.1f} ms | ratio {sign_ms / plain_ms:.1f}x"
    )
    _, cookies = await _sign_in(base)
    await _load(base, "/", cookies, clients, 10)  # warm both paths
    await _load(base, "/", {}, clients, 10)
    with_session, lat_s = await _load(base, "/", cookies, clients, per_client)
    without, lat_a = await _load(base, "/", {}, clients, per_client)
    n = clients * per_client
    rate_s, rate_a = n / with_session, n / without
    print(
        f"home page behind a session, {clients} clients x {per_client}: {rate_s:,.0f} req/s, "
        f"p50 {_p(lat_s, 0.5):.1f} ms, p99 {_p(lat_s, 0.99):.1f} ms"
        f" | baseline same page with no authentication: {rate_a:,.0f} req/s, "
        f"p50 {_p(lat_a, 0.5):.1f} ms, p99 {_p(lat_a, 0.99):.1f} ms | ratio {rate_s / rate_a:.2f}"
    )


def _in_process_verify(rounds: int) -> None:
    from catalog.accounts.passwords import hash_password, verify_password

    stored = hash_password(PASSWORD)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert verify_password(stored, PASSWORD)
        times.append(time.perf_counter() - started)
    import hashlib

    base = []
    for _ in range(rounds):
        started = time.perf_counter()
        hashlib.sha256(PASSWORD.encode()).hexdigest()
        base.append(time.perf_counter() - started)
    verify_ms = statistics.median(times) * 1000
    print(
        f"argon2id verify in-process ({rounds} rounds, argon2-cffi defaults): median {verify_ms:.1f} ms"
        f" | baseline SHA-256 of the same password: {statistics.median(base) * 1e6:.1f} µs"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_accounts")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=150)
    args = parser.parse_args(argv)
    per_client = 30 if args.quick else args.per_client
    sign_ins = 10 if args.quick else 40
    _in_process_verify(sign_ins)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = embedded_env(Path(tmp) / "var", port)
        fairgate(env, "load-sample")
        fairgate(env, "user", "add", "bench@ntu.edu.tw", "--role", "steward", "--password-stdin", stdin=PASSWORD + "\n")
        with serving(env) as base:
            asyncio.run(_measure(base, sign_ins, args.clients, per_client))


if __name__ == "__main__":
    main(sys.argv[1:])
