"""The catalog FAIR report (``/fair``) at 10,000 records: the page as it was (every record scored
on each request, which is what a fresh cache does) beside the cached page, unchanged and after one
edit, in the same run. ``python -m bench fair [--quick] [-- --records N]``."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from bench.datagen import generated_datasets
from catalog.app import create_app
from catalog.context import open_context
from catalog.fair.cache import FairReportCache
from catalog.settings import Settings
from catalog.store import NewRecord


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    n = int(argv[argv.index("--records") + 1]) if "--records" in argv else (1_000 if "--quick" in argv else 10_000)
    tmp = Path(tempfile.mkdtemp())
    try:
        settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'catalog.db'}", steward_token="bench")
        ctx = open_context(settings)
        datasets = list(generated_datasets(n))
        for i in range(0, n, 1000):
            ctx.store.save_many([NewRecord(d) for d in datasets[i : i + 1000]], actor="bench", activity="bench")
        client = TestClient(create_app(context=ctx))
        cache = ctx.extensions["fair_report"] = FairReportCache(ctx.store)

        def uncached() -> None:  # what every request did before: a new tally of every record
            ctx.extensions["fair_report"] = FairReportCache(ctx.store)
            assert client.get("/fair").status_code == 200

        before = _median_ms(uncached, 3)
        ctx.extensions["fair_report"] = cache
        client.get("/fair")  # the first request of a process scores everything once
        warm = _median_ms(lambda: client.get("/fair"), 20)
        edited = iter(datasets)

        def after_one_edit() -> None:
            ds = next(edited)
            stored = ctx.store.curation_list(text=ds.identifier or "", limit=1)[0]
            title = {k: v + " (edited)" for k, v in stored.dataset.title.items()}
            ctx.store.save(stored.dataset.model_copy(update={"title": title}), actor="bench")
            started = time.perf_counter()
            client.get("/fair")
            times.append((time.perf_counter() - started) * 1000)

        times: list[float] = []
        for _ in range(10):
            after_one_edit()
        one_edit = statistics.median(times)
        print(
            f"/fair page, {n:,} records: cached {warm:.1f} ms median (unchanged catalog), "
            f"{one_edit:.1f} ms after one edit | baseline every record scored per request {before:.0f} ms | "
            f"{before / warm:.0f}x and {before / one_edit:.0f}x faster"
        )
        ctx.store.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
