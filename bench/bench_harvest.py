"""Harvest benchmark: a CKAN source of generated packages on a local server, into SQLite end to end.

Prints the first harvest (records/s, peak memory) beside a ckanapi fetch-only baseline, the
same harvest into a store without a search index beside it (how the time splits), the
unchanged re-harvest beside the first run, and DCAT Turtle parse+map beside rdflib alone.
The CKAN server runs in a child process so its memory is not counted as the harvester's;
the harvester's own child processes (the search indexer) are counted, in CPU and memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
from ckanapi import RemoteCKAN

ROWS = 500


def _package(i: int) -> dict[str, Any]:
    created = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    zh = i % 2 == 0
    return {
        "id": f"pkg-{i:06d}",
        "name": f"dataset-{i:06d}",
        "title": f"第 {i} 號胸部 X 光影像資料集" if zh else f"Chest X-ray image collection {i}",
        "notes": ("本資料集包含去識別化之影像與標註。" if zh else "De-identified images with annotations. ") * 3,
        "language": ["zho"] if zh else ["eng"],
        "license_id": "cc-by" if i % 3 else "cc-by-nc-sa",
        "metadata_created": created.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "metadata_modified": created.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "private": False,
        "organization": {"name": f"org-{i % 20}", "title": f"醫院團隊 {i % 20}"},
        "tags": [{"name": t} for t in ("影像", "radiology", f"tag{i % 50}")],
        "maintainer": "Data Office",
        "maintainer_email": "data@example.org",
        "extras": [{"key": "spatial_uri", "value": "http://sws.geonames.org/1668284/"}],
        "resources": [
            {
                "id": f"res-{i:06d}-{k}",
                "name": f"part {k}",
                "url": f"https://data.example.org/d/{i}/{k}.zip",
                "format": "ZIP" if k else "CSV",
                "mimetype": "application/zip" if k else "text/csv",
                "size": 1000 + i,
                "url_type": "upload",
            }
            for k in range(2)
        ],
    }


def _serve(n: int, port_out: Any, ready: Any) -> None:
    pages: dict[int, bytes] = {}
    packages = [_package(i) for i in range(n)]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            start, rows = int(body.get("start", 0)), int(body.get("rows", 10))
            key = start * 100000 + rows
            if key not in pages:
                result = {"count": n, "results": packages[start : start + rows]}
                pages[key] = json.dumps({"success": True, "result": result}, ensure_ascii=False).encode()
            payload = pages[key]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.value = server.server_address[1]
    ready.set()
    server.serve_forever()


class _PeakRss:
    """Samples the resident memory of this process plus its child processes (the search
    indexer) in a thread; ``peak`` in MB. Processes in
    ``exclude`` (the CKAN server) are not counted."""

    def __init__(self, exclude: set[int]) -> None:
        self.peak = 0.0
        self._exclude = exclude
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, children: list[psutil.Process]) -> None:
        total = self._proc.memory_info().rss
        for child in children:
            with contextlib.suppress(psutil.Error):  # exited between listing and sampling
                total += child.memory_info().rss
        self.peak = max(self.peak, total / 1e6)

    def _children(self) -> list[psutil.Process]:
        return [p for p in self._proc.children(recursive=True) if p.pid not in self._exclude]

    def _run(self) -> None:
        children, listed = self._children(), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - listed > 0.25:  # new children are rare; listing /proc is not free
                children, listed = self._children(), time.monotonic()
            self._sample(children)
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(self._children())


def _cpu(exclude: set[int]) -> tuple[float, float]:
    """CPU seconds (all, of child processes) of this process and its child processes not in
    ``exclude`` (the CKAN server): those waited for (the search indexer, once a run returns)
    from the kernel's sum for reaped children, those not yet waited for (running, or exited
    and not reaped, which ``children()`` still lists) from their own counters. A child moves
    from the second sum to the first when reaped, so a difference of two readings counts it
    once either way."""
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    children = waited.ru_utime + waited.ru_stime
    for child in psutil.Process().children(recursive=True):
        if child.pid in exclude:
            continue
        with contextlib.suppress(psutil.Error):  # reaped between listing and reading: in ``waited`` next time
            t = child.cpu_times()
            children += t.user + t.system
    return own.ru_utime + own.ru_stime + children, children


def _fetch_only(url: str) -> int:
    seen = 0
    with RemoteCKAN(url) as ckan:
        start = 0
        while True:
            page = ckan.call_action("package_search", {"rows": ROWS, "start": start, "sort": "metadata_created asc"})
            seen += len(page["results"])
            start += len(page["results"])
            if not page["results"] or start >= page["count"]:
                return seen


def _subtree(pid: int | None) -> set[int]:
    if pid is None:
        return set()
    root = psutil.Process(pid)
    return {pid, *(p.pid for p in root.children(recursive=True))}


def bench_ckan(n: int) -> None:
    from catalog.bootstrap import open_store
    from catalog.context import open_context
    from catalog.harvest import HarvestService
    from catalog.settings import Settings

    port, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(n, port, ready), daemon=True)
    server.start()
    ready.wait(30)
    url = f"http://127.0.0.1:{port.value}"
    try:
        _fetch_only(url)  # warm the server's page cache so both measurements see the same server
        t = time.perf_counter()
        fetched = _fetch_only(url)
        t_fetch = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            ctx = open_context(Settings(data_dir=Path(tmp)))
            indexed = "search" if ctx.extensions else "no search index attached"
            service = HarvestService(ctx.store, batch_size=500)
            service.add_source("ckan", url, name="bench", options={"rows": ROWS})
            server_tree = _subtree(server.pid)
            with _PeakRss(exclude=server_tree) as rss:
                t, (cpu, cpu_kids) = time.perf_counter(), _cpu(server_tree)
                first = service.run("bench")
                t_first = time.perf_counter() - t
                cpu_first, cpu_kids_first = (b - a for a, b in zip((cpu, cpu_kids), _cpu(server_tree), strict=True))
            # A run whose index delivery failed still stores every record: count what was indexed.
            in_index = ctx.extensions["search"].count() if ctx.extensions else n
            t = time.perf_counter()
            second = service.run("bench")
            t_second = time.perf_counter() - t
            ctx.store.engine.dispose()
        # The same first harvest into a store with no index attached: how the time splits.
        with tempfile.TemporaryDirectory() as tmp:
            bare = open_store(Settings(data_dir=Path(tmp)))
            bare_service = HarvestService(bare, batch_size=500)
            bare_service.add_source("ckan", url, name="bench", options={"rows": ROWS})
            t, (cpu, _) = time.perf_counter(), _cpu(server_tree)
            no_index = bare_service.run("bench")
            t_bare, cpu_bare = time.perf_counter() - t, _cpu(server_tree)[0] - cpu
            bare.engine.dispose()
    finally:
        server.terminate()
        server.join()
    assert first.added == n and second.unchanged == n and no_index.added == n, (first, second, no_index)
    assert first.status == second.status == no_index.status == "succeeded" and in_index == n, (first, in_index)
    print(
        f"ckan harvest sqlite ({indexed}): {n} rec in {t_first:.1f} s = {n / t_first:.0f} rec/s, "
        f"CPU {cpu_first:.1f} s incl. child processes {cpu_kids_first:.1f} s "
        f"(machine load {psutil.getloadavg()[0]:.1f}), "
        f"peak RSS {rss.peak:.0f} MB incl. child processes | "
        f"baseline ckanapi fetch only {fetched / t_fetch:.0f} rec/s | "
        f"ratio {t_fetch / t_first:.2f}"
    )
    print(
        f"ckan harvest sqlite (no search index): {n} rec in {t_bare:.1f} s = {n / t_bare:.0f} rec/s, "
        f"CPU {cpu_bare:.1f} s | baseline with search index {n / t_first:.0f} rec/s, CPU {cpu_first:.1f} s | "
        f"indexing share of CPU {1 - cpu_bare / cpu_first:.0%}"
    )
    print(
        f"ckan re-harvest unchanged: {n} rec in {t_second:.2f} s | baseline first run {t_first:.1f} s | "
        f"ratio {t_first / t_second:.1f}x faster"
    )


def _turtle(n: int) -> str:
    head = (
        "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n@prefix dct: <http://purl.org/dc/terms/> .\n"
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
        '<https://data.example.org/catalog> a dcat:Catalog ; dct:title "Bench"@en .\n'
    )
    parts = [head]
    for i in range(n):
        parts.append(
            f"<https://data.example.org/catalog> dcat:dataset <https://data.example.org/d/{i}> .\n"
            f'<https://data.example.org/d/{i}> a dcat:Dataset ; dct:identifier "d-{i}" ;\n'
            f'  dct:title "Chest X-ray set {i}"@en, "胸部 X 光 {i}"@zh-Hant ;\n'
            f'  dct:description "De-identified images {i}"@en ; dcat:keyword "radiology"@en ;\n'
            f'  dct:issued "2020-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ;\n'
            f"  dcat:landingPage <https://data.example.org/page/{i}> ;\n"
            f"  dcat:distribution [ a dcat:Distribution ; dcat:accessURL <https://data.example.org/f/{i}.zip> ;\n"
            f"    dct:format <http://publications.europa.eu/resource/authority/file-type/ZIP> ] .\n"
        )
    return "".join(parts)


def bench_dcat(n: int, rounds: int = 3) -> None:
    import gc
    import statistics

    from rdflib import Graph

    from harvesters.dcat_parse import parse_document
    from harvesters.rdf_store import DocumentStore

    text = _turtle(n)
    baseline: list[float] = []
    same_store: list[float] = []
    ours: list[float] = []
    # Interleaved rounds, each after a full collection: a single pair of runs is at the mercy of whichever
    # one the collector happens to visit with the other's discarded graph still on the heap.
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        Graph().parse(data=text, format="turtle")
        baseline.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        Graph(store=DocumentStore(), bind_namespaces="none").parse(data=text, format="turtle")
        same_store.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        doc = parse_document(text, "turtle")
        ours.append(time.perf_counter() - t)
        assert len(doc.datasets) == n, (len(doc.datasets), doc.records[:1])
        del doc
    t_rdflib, t_store, t_full = (statistics.median(x) for x in (baseline, same_store, ours))
    print(
        f"dcat turtle parse+map: {n} datasets in {t_full:.1f} s (median of {rounds}) | "
        f"baseline rdflib parse only (default Memory store) {t_rdflib:.1f} s | ratio {t_full / t_rdflib:.2f}"
    )
    # The same parse into the store we read from: what the mapping itself adds.
    print(
        f"dcat turtle mapping share: parse into DocumentStore {t_store:.1f} s, mapping {t_full - t_store:.1f} s | "
        f"ratio to rdflib parse into the same store {t_full / t_store:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--only", choices=("ckan", "dcat"), help="run one of the two benchmarks")
    args = parser.parse_args(argv)
    n = 500 if args.quick else 10_000
    if args.only != "dcat":
        bench_ckan(n)
    if args.only != "ckan":
        # A fresh interpreter: the CKAN figure leaves a large heap behind, and every full collection during
        # the DCAT rounds would walk it (the mapping allocates more than rdflib's parse, so it pays more).
        import multiprocessing

        dcat = multiprocessing.get_context("spawn").Process(
            target=bench_dcat, args=(n // 5 if args.quick else n,), kwargs={"rounds": 1 if args.quick else 3}
        )
        dcat.start()
        dcat.join()
        if dcat.exitcode != 0:
            raise SystemExit(f"bench_dcat failed (exit {dcat.exitcode})")


if __name__ == "__main__":
    main()
