"""Portal figures over real HTTP against a ``fairgate serve`` process of its own: password sign-ins per second
and p99 with 32 clients (argon2id verify included) beside a static file of the same server; and the "my
data" page p95 for a person in 10 datasets and 1,000 releases beside a person in one dataset and none.

Makes its own registry (default 20,000 subjects and 1,000 releases; ``--full``: 1,000,000 and 10,000, as the
issue asks). Release rows are written straight into the registry's tables: making them through
``create_release`` would measure release-making, not the portal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench.served import csrf_of, embedded_env, free_port, serving

PASSWORD = "a bench sentence of mine"
CLIENT = "127.0.0.1"


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def _national_id(n: int) -> str:
    from consent.pseudonyms import taiwan_check_digit

    prefix = f"B1{n:07d}"
    return prefix + taiwan_check_digit(prefix)


HEAVY_RELEASES = 1_000


def _build(data_dir: Path, subjects: int, releases: int, signers: int) -> None:
    """The registry: ``subjects`` people over 10 datasets, person 0 in all ten and in the first ``HEAVY_RELEASES``
    releases (the issue's 1,000; every release when there are fewer)."""
    import numpy as np
    from sqlalchemy import insert, select

    from consent import membership
    from consent import tables as t
    from consent.membership import MembershipBuilder
    from consent.portal import PortalService
    from consent.registry import ConsentRegistry, EnrolmentInput
    from consent.settings import ConsentSettings
    from schemas.consent import Category, Policy, ReleaseManifest, ReleaseProject, format_instant

    registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=data_dir))
    portal = PortalService(registry)
    datasets = [f"dg.TW01/{uuid.UUID(int=i + 1)}" for i in range(10)]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    heavy = registry.pseudonymiser.subject(_national_id(0))
    light = registry.pseudonymiser.subject(_national_id(1))
    rows = [EnrolmentInput(heavy, d, "NTU", Category.C, t0, (f"{d[-4:]}-heavy",)) for d in datasets]
    rows.append(EnrolmentInput(light, datasets[0], "NTU", Category.B, t0, ("light",)))
    named = [registry.pseudonymiser.subject(_national_id(n)) for n in range(2, 2 + signers)]
    rows += [EnrolmentInput(s, datasets[0], "TMU", Category.B, t0) for s in named]
    registry.enrol(rows)
    fillers = subjects - len(named) - 2
    for start in range(0, fillers, 100_000):
        chunk = [
            EnrolmentInput(secrets.token_hex(32), datasets[(start + i) % 10], "TMU", Category.B, t0, (f"f{start + i}",))
            for i in range(min(100_000, fillers - start))
        ]
        registry.enrol(chunk)
    project = ReleaseProject(
        title="Bench project",
        institution="NCKU",
        purpose_text="benchmark",
        starts_on=date(2026, 1, 1),
        ends_on=date(2027, 12, 31),
    )
    with registry.engine.connect() as conn:
        counters = {
            str(d): int(n) for d, n in conn.execute(select(t.case_numbers.c.dataset, t.case_numbers.c.next_case_no))
        }
        heavy_cases = {
            str(d): int(n)
            for d, n in conn.execute(select(t.cases.c.dataset, t.cases.c.case_no).where(t.cases.c.subject == heavy))
        }
    with registry.engine.begin() as conn:
        for r in range(releases):
            release_id = f"dg.TW01/{uuid.uuid4()}"
            release_no = membership.reserve_release_number(conn)
            dataset = datasets[r % 10]
            decided = t0 + timedelta(hours=r)
            manifest = ReleaseManifest(
                release_id=release_id,
                application=f"app-{r}",
                dataset=dataset,
                purpose="DUO:0000042",
                modifiers=[],
                policy=Policy(),
                decided_at=decided,
                active_until=date(2099, 1, 1),
                ledger_checkpoint_hash="0" * 64,
                cases_in=101,
                cases_out=101,
                excluded={},
                unknown_case_ids=[],
                output_file="released_cases.csv",
                output_sha256="0" * 64,
                project=project,
            )
            conn.execute(
                insert(t.releases).values(
                    release_id=release_id,
                    release_no=release_no,
                    application=manifest.application,
                    dataset=dataset,
                    purpose=manifest.purpose,
                    active_until="2099-01-01T23:59:59.999999Z",
                    created_at=format_instant(decided),
                    manifest=json.loads(manifest.model_dump_json()),
                )
            )
            conn.execute(insert(t.release_scopes).values(release_id=release_id, scope_purpose="DUO:0000042"))
            numbers = np.random.default_rng(r).integers(0, max(counters[dataset], 1), 100)
            held = np.concatenate([numbers, [heavy_cases[dataset]] if r < HEAVY_RELEASES else []]).astype(np.int64)
            builder = MembershipBuilder(counters[dataset])
            builder.add(held)
            membership.store(conn, release_id, release_no, dataset, builder)
    for s in [heavy, light, *named]:
        portal.set_password(s, PASSWORD, CLIENT)
    registry.engine.dispose()


async def _session(base: str, n: int) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as c:
        form = await c.get("/portal")
        r = await c.post(
            "/portal/sign-in", data={"csrf": csrf_of(form.text), "national_id": _national_id(n), "secret": PASSWORD}
        )
        assert r.status_code == 303, r.status_code
        return dict(c.cookies)


async def _sign_ins(base: str, clients: int, per_client: int, signers: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def one(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            form = await c.get("/portal")
            token = csrf_of(form.text)
            for i in range(per_client):
                who = _national_id(2 + (k * per_client + i) % signers)
                started = time.perf_counter()
                r = await c.post("/portal/sign-in", data={"csrf": token, "national_id": who, "secret": PASSWORD})
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 303, r.status_code
                token = csrf_of((await c.get("/portal/history")).text)  # signing in gave a new CSRF token

    started = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(clients)))
    return time.perf_counter() - started, latencies


async def _gets(
    base: str, path: str, cookies: dict[str, str], clients: int, per_client: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) as c:
            for _ in range(per_client):
                started = time.perf_counter()
                r = await c.get(path)
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 200, (path, r.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return time.perf_counter() - started, latencies


async def _measure(base: str, clients: int, per_client: int, signers: int, views: int, heavy_releases: int) -> None:
    took, lat = await _sign_ins(base, clients, per_client, signers)
    s_took, s_lat = await _gets(base, "/static/fairgate.css", {}, clients, per_client)
    n = clients * per_client
    print(
        f"portal sign-in (password, argon2id verify) over HTTP, {clients} clients x {per_client}: "
        f"{n / took:,.1f} req/s, p50 {_p(lat, 0.5):.0f} ms, p99 {_p(lat, 0.99):.0f} ms"
        f" | baseline static /static/fairgate.css same server, same clients: {n / s_took:,.0f} req/s, "
        f"p99 {_p(s_lat, 0.99):.1f} ms | ratio {(n / s_took) / (n / took):.0f}x"
    )
    heavy, light = await _session(base, 0), await _session(base, 1)
    await _gets(base, "/portal/my-data", heavy, 1, 3)  # warm
    _, h_lat = await _gets(base, "/portal/my-data", heavy, 1, views)
    _, l_lat = await _gets(base, "/portal/my-data", light, 1, views)
    print(
        f"'my data' page over HTTP, person in 10 datasets and {heavy_releases:,} releases, "
        f"{views} views one after another: "
        f"p50 {_p(h_lat, 0.5):.0f} ms, p95 {_p(h_lat, 0.95):.0f} ms"
        f" | baseline person in 1 dataset and no release: p50 {_p(l_lat, 0.5):.0f} ms, p95 {_p(l_lat, 0.95):.0f} ms"
        f" | ratio {_p(h_lat, 0.95) / _p(l_lat, 0.95):.1f}x"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_portal")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="1,000,000 subjects and 10,000 releases")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args(argv)
    subjects, releases = (1_000_000, 10_000) if args.full else (2_000, 100) if args.quick else (20_000, 1_000)
    per_client, views, signers = (2, 10, 16) if args.quick else (4, 40, 64)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        started = time.perf_counter()
        _build(data_dir, subjects, releases, signers)
        print(
            f"registry: {subjects:,} subjects, {releases:,} releases (built in {time.perf_counter() - started:.0f} s)"
        )
        port = free_port()
        env = embedded_env(data_dir, port)
        with serving(env, ready="/portal") as base:
            asyncio.run(_measure(base, args.clients, per_client, signers, views, min(releases, HEAVY_RELEASES)))


if __name__ == "__main__":
    main(sys.argv[1:])
