"""Harvest protocols at scale: CKAN ``package_search`` p95 over HTTP beside ``/api/search`` on the
same queries, and a full OAI-PMH ``ListRecords`` harvest beside the same harvest of ``/catalog.ttl``,
both against one real server (uvicorn subprocess) over one generated catalog, in one run.

``python -m bench protocols [--quick] [-- --records N]``. Each harvest is fairgate's own
harvester (fetch, parse, map to ``Dataset``) with nothing written; the DCAT one runs without
its SHACL check of the input, so both do the same work per record.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_search import QUERIES, generate
from catalog.context import open_context
from catalog.settings import Settings
from catalog.store import NewRecord
from harvesters.dcat_rdf import DcatRdfSource
from harvesters.oaipmh import OaiPmhSource


def serve(settings_json: str) -> None:  # pragma: no cover - runs in the server subprocess
    import uvicorn

    from catalog.app import create_app

    settings = Settings(**json.loads(settings_json))
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _fill(settings: Settings, n: int) -> float:
    ctx = open_context(settings)
    start = time.perf_counter()
    batch: list[NewRecord] = []
    with ctx.store.publishing_behind():
        for _, ds in generate(n):
            batch.append(NewRecord(ds))
            if len(batch) == 1000:
                ctx.store.save_many(batch, actor="bench", activity="create")
                batch = []
        if batch:
            ctx.store.save_many(batch, actor="bench", activity="create")
    took = time.perf_counter() - start
    ctx.store.engine.dispose()
    return took


def _start(settings: Settings) -> subprocess.Popen[bytes]:
    blob = json.dumps(json.dumps(settings.model_dump(mode="json", include={"data_dir", "port", "base_url"})))
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from bench.bench_protocols import serve; serve({blob})"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{settings.base_url}/api/3/action/status_show", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the benchmark server did not start")


def _searches(base: str, rounds: int) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    ckan: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for q in QUERIES:  # warm caches once
            client.get("/api/search", params={"q": q, "limit": 20})
            client.get("/api/3/action/package_search", params={"q": q, "rows": 20})
        for _ in range(rounds):
            for q in QUERIES:  # interleaved, so both run under the same machine load
                t0 = time.perf_counter()
                a = client.get("/api/search", params={"q": q, "limit": 20})
                t1 = time.perf_counter()
                b = client.get("/api/3/action/package_search", params={"q": q, "rows": 20})
                t2 = time.perf_counter()
                a.raise_for_status()
                b.raise_for_status()
                if b.json()["result"]["count"] != a.json()["total"]:
                    raise AssertionError(f"package_search and /api/search disagree on {q!r}")
                ours.append(t1 - t0)
                ckan.append(t2 - t1)
    return ours, ckan


def _harvest(records: object) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for rec in records:  # type: ignore[attr-defined]
        if rec.dataset is None and not rec.meta.get("deleted"):
            raise AssertionError(f"record {rec.upstream_id} failed: {rec.error}")
        n += 1
    return n, time.perf_counter() - start


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    n = int(argv[argv.index("--records") + 1]) if "--records" in argv else (2_000 if quick else 100_000)
    rounds = 3 if quick else 10
    tmp = Path(tempfile.mkdtemp(prefix="fairgate-bench-protocols-"))
    port = _free_port()
    settings = Settings(data_dir=tmp / "var", port=port, base_url=f"http://127.0.0.1:{port}")
    try:
        fill = _fill(settings, n)
        print(f"   (catalog of {n} records stored and indexed in {fill:.1f} s)", flush=True)
        proc = _start(settings)
        try:
            ours, ckan = _searches(settings.base_url, rounds)
            print(
                f"package_search over HTTP ({n} rec, {len(ckan)} queries, rows=20): p50 "
                f"{statistics.median(ckan) * 1000:.1f} ms, p95 {_pct(ckan, 0.95) * 1000:.1f} ms"
                f" | baseline /api/search same queries p50 {statistics.median(ours) * 1000:.1f} ms, p95"
                f" {_pct(ours, 0.95) * 1000:.1f} ms | ratio p95 {_pct(ckan, 0.95) / _pct(ours, 0.95):.2f}",
                flush=True,
            )
            oai_n, oai_s = _harvest(OaiPmhSource(settings.base_url + "/oai", timeout=300).records())
            ttl_n, ttl_s = _harvest(
                DcatRdfSource(f"{settings.base_url}/catalog.ttl?per_page=100", timeout=300, shacl=False).records()
            )
            print(
                f"OAI-PMH ListRecords oai_dc full harvest ({oai_n} rec, 100 per page): {oai_n / oai_s:.0f} rec/s"
                f" in {oai_s:.1f} s | baseline /catalog.ttl harvest ({ttl_n} rec, 100 per page) "
                f"{ttl_n / ttl_s:.0f} rec/s in {ttl_s:.1f} s | ratio {(oai_n / oai_s) / (ttl_n / ttl_s):.2f}",
                flush=True,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
