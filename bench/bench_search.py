"""Search benchmark: build both embedded indexes (tantivy, SQLite FTS5) over generated bilingual
records, then time queries with two facets in-process and over HTTP beside the raw FTS5 query
(the baseline; tantivy's own raw top 20 is printed too).

Records are made in-process from the packaged sample catalog and a small embedded set of
Chinese/English research-data texts, so nothing outside the repository is read.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from catalog.samples import sample_datasets
from catalog.search.document import SearchDocument, build_document
from catalog.search.embedded import EmbeddedIndex, fts_expression
from catalog.search.query import SearchQuery
from catalog.search.tantivy_backend import TantivyIndex, compile_plan
from catalog.search.text import analyse
from schemas import Dataset
from schemas.dataset import Agent, Distribution, LicenseDocument

# Short texts in the style of a Taiwanese research-data repository (depositar-like).
_OTHER = [
    (
        "LTSER Lyudao 珊瑚礁水下聲景",
        "Coral reef soundscape",
        "本資料集為綠島長期社會生態核心觀測平台在珊瑚礁生態系所收集之水下聲景長期觀測資料。",
    ),
    (
        "彰化縣歷年水質監測資料",
        "Changhua water quality",
        "資料取自全國環境水質監測網，包含溶氧、pH、導電度與懸浮固體等項目之歷年觀測值。",
    ),
    (
        "長照機構地震演習培訓教材",
        "Earthquake drill training for long-term care",
        "災害特定需求者災害管理計畫與演習計畫之研擬與應用，提供長照機構演練使用。",
    ),
    (
        "台北盆地 NDVI 與地表溫度",
        "NDVI and land surface temperature of the Taipei basin",
        "以 Landsat 7/8 衛星影像計算之植生指標與地表溫度，供都市熱島研究使用。",
    ),
    (
        "空氣品質與 PM2.5 感測資料",
        "Air quality and PM2.5 sensor data",
        "Low-cost PM2.5 sensors deployed in homes and schools; hourly readings with temperature and humidity.",
    ),
    (
        "流域綜合治理工程生態檢核",
        "Ecological check of river basin works",
        "工程施工階段之生態檢核報告，包含棲地評估、保育對策與自主檢查表。",
    ),
]
_PUBLISHERS = [f"Research team {i:02d}" for i in range(40)]
_LICENCES = [
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/licenses/by-nc/4.0/",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "https://example.org/licence/data-use-agreement",
]
_RIGHTS = ["PUBLIC", "RESTRICTED", "NON_PUBLIC"]
_FORMATS = ["CSV", "DICOM", "PDF", "ZIP", "JSON", "XLSX", "PNG"]
_KEYWORDS = [*(f"topic {i}" for i in range(300)), "肺部", "腦部", "心臟", "水質", "珊瑚礁", "生態檢核", "AI", "cohort"]
QUERIES = [
    "lung CT",
    "腦轉移",
    "glaucoma fundus",
    "肺部",
    "coronary",
    "冠狀動脈",
    "MRI brain",
    "肝癌",
    "X-ray",
    "珊瑚礁",
    "water quality",
    "水質",
    "骨折",
    "earthquake",
    "衛星影像",
    "breast",
    "心臟 CT",
    "脑转移",
    "annotated dataset",
    "生態檢核",
]


def generate(n: int, seed: int = 7) -> Iterator[tuple[str, Dataset]]:
    """``n`` bilingual records: varied copies of the sample imaging datasets and research-data texts."""
    rng = random.Random(seed)
    base = sample_datasets()
    for i in range(n):
        if rng.random() < 0.6:
            proto = base[rng.randrange(len(base))]
            extra = rng.choice(_OTHER)[2]
            ds = proto.model_copy(
                update={
                    "guid": None,
                    "identifier": f"GEN-{i:07d}",
                    "title": {k: f"{v} {rng.randrange(1, 40)}" for k, v in proto.title.items()},
                    "description": {**proto.description, "zh-Hant": proto.description.get("zh-Hant", "") + extra},
                    "keywords": {**proto.keywords, "en": [*proto.keywords.get("en", []), rng.choice(_KEYWORDS)]},
                    "publisher": Agent(name={"en": rng.choice(_PUBLISHERS)}),
                    "access_rights": rng.choice(_RIGHTS),
                    "license": LicenseDocument(iri=rng.choice(_LICENCES)),
                }
            )
        else:
            zh, en, text = rng.choice(_OTHER)
            ds = Dataset(
                title={"zh-Hant": f"{zh} ({2015 + rng.randrange(9)})", "en": en},
                description={"zh-Hant": text * rng.randrange(1, 4), "en": f"{en}: generated record {i}."},
                keywords={"zh-Hant": [rng.choice(_KEYWORDS), rng.choice(_KEYWORDS)]},
                publisher=Agent(name={"en": rng.choice(_PUBLISHERS)}),
                access_rights=rng.choice(_RIGHTS),
                license=LicenseDocument(iri=rng.choice(_LICENCES)),
                language=["ZHO"],
                distributions=[Distribution(format=rng.choice(_FORMATS))],
            )
        yield f"bench/{i:07d}", ds


def _filters(rng: random.Random) -> dict[str, list[str]]:
    return {"access_rights": [rng.choice(_RIGHTS)], "license": [rng.choice(_LICENCES)]}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.2f} ms p95 {_pct(values, 0.95) * 1000:.2f} ms"


def _raw_baseline(docs: list[SearchDocument]) -> float:
    """Seconds to put the same analysed text into a bare FTS5 table (no facets, no display)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(t, k, d)")
    rows = [
        (
            " ".join(analyse(d.title_text).units),
            " ".join(analyse(d.keyword_text).units),
            " ".join(analyse(d.description_text).units),
        )
        for d in docs
    ]
    start = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO f VALUES (?, ?, ?)", rows)
    return time.perf_counter() - start


def serve(settings_json: str) -> None:  # pragma: no cover - runs in the server subprocess
    """Entry point of the HTTP server subprocess (the real app over the built index)."""
    import uvicorn

    from catalog.app import create_app
    from catalog.settings import Settings

    settings = Settings(**json.loads(settings_json))
    # No access log: a line per request is the log's cost, not the search's.
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)


def _start_server(tmp: Path, index_dir: Path, port: int, backend: str) -> subprocess.Popen[bytes]:
    settings = {
        "data_dir": str(tmp / f"var-{port}"),
        "search_index_path": str(index_dir),
        "search_backend": backend,
        "port": port,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from bench.bench_search import serve; serve({json.dumps(json.dumps(settings))})"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/search/suggest?q=a", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("search server did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Backend:
    """One embedded backend under test: its index, the setting that selects it, and its
    own engine queried raw (our plan compiled, top 20, no facets, no highlighting)."""

    def __init__(self, name: str, setting: str, index: TantivyIndex | EmbeddedIndex, directory: Path) -> None:
        self.name, self.setting, self.index, self.directory = name, setting, index, directory
        self.ours: list[float] = []
        self.raw: list[float] = []
        self.totals: list[int] = []
        # CPU seconds of the whole process (every thread): on a shared machine wall time
        # also counts waiting for a core, CPU time mostly does not.
        self.ours_cpu: list[float] = []
        self.raw_cpu: list[float] = []

    def raw_query(self, q: str) -> Callable[[], object]:
        plan = self.index.plan(q)
        if isinstance(self.index, TantivyIndex):
            compiled = compile_plan(plan)
            index = self.index
            return lambda: index.raw_top(compiled, 20)
        expression = fts_expression(plan)
        sqlite_index = self.index
        return lambda: sqlite_index.raw_match_top(expression, 20)


def _http(backend: _Backend, tmp: Path, cases: list[tuple[str, dict[str, list[str]]]]) -> tuple[list[float], int]:
    port = _free_port()
    proc = _start_server(tmp, backend.directory, port, backend.setting)
    try:
        http: list[float] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for q, f in cases[: len(QUERIES)]:
                client.get("/api/search", params={"q": q, **f})
            for q, f in cases:
                t0 = time.perf_counter()
                r = client.get("/api/search", params={"q": q, **f})
                http.append(time.perf_counter() - t0)
                r.raise_for_status()
        rss = psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return http, rss


def main(argv: list[str]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fairgate-bench-search-"))
    try:
        _run(argv, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # about 0.8 GB at 100k records


def _run(argv: list[str], tmp: Path) -> None:
    quick = "--quick" in argv
    n = 2_000 if quick else 100_000
    rounds = 3 if quick else 10

    start = time.perf_counter()
    docs = [build_document(ds, guid) for guid, ds in generate(n)]
    prep = time.perf_counter() - start
    raw_build = _raw_baseline(docs)
    text_bytes = sum(len(json.dumps(d.display, ensure_ascii=False).encode()) for d in docs)

    backends = [
        _Backend("tantivy", "embedded", TantivyIndex.open(tmp / "tantivy"), tmp / "tantivy"),
        _Backend("sqlite FTS5", "sqlite", EmbeddedIndex.open(tmp / "sqlite"), tmp / "sqlite"),
    ]
    for b in backends:
        start = time.perf_counter()
        for i in range(0, n, 1000):
            b.index.upsert(docs[i : i + 1000])
        build = time.perf_counter() - start
        size = b.index.size_bytes()
        print(
            f"search index build [{b.name}]: {n} rec in {build:.1f} s = {n / build:.0f} rec/s"
            f" (+ {prep:.1f} s building documents) | baseline bare FTS5 insert {n / raw_build:.0f} rec/s"
            f" | ratio {raw_build / build:.2f}"
        )
        print(
            f"search index size [{b.name}]: {size / 1e6:.1f} MB | baseline display JSON {text_bytes / 1e6:.1f} MB"
            f" | ratio {size / text_bytes:.2f}"
        )
    del docs

    rng = random.Random(3)
    cases = [(q, _filters(rng)) for _ in range(rounds) for q in QUERIES]
    for b in backends:
        for q, f in cases[: len(QUERIES)]:  # warm caches once
            b.index.search(SearchQuery(q=q, filters=f))
    # Interleaved, so every backend and its raw engine run under the same machine load.
    for q, f in cases:
        for b in backends:
            raw_query = b.raw_query(q)
            c0, t0 = time.process_time(), time.perf_counter()
            res = b.index.search(SearchQuery(q=q, filters=f))
            c1, t1 = time.process_time(), time.perf_counter()
            raw_query()
            c2, t2 = time.process_time(), time.perf_counter()
            b.ours.append(t1 - t0)
            b.raw.append(t2 - t1)
            b.ours_cpu.append(c1 - c0)
            b.raw_cpu.append(c2 - c1)
            b.totals.append(res.total)
    fts = backends[1]
    for b in backends:
        own = "" if b is fts else f" ; raw tantivy top 20 {_ms(b.raw)}"
        print(
            f"search query in-process [{b.name}] ({n} rec, 2 facets, {len(cases)} queries, median total"
            f" {statistics.median(b.totals):.0f}): {_ms(b.ours)} | baseline raw FTS5 MATCH+bm25 top 20"
            f" {_ms(fts.raw)} | ratio p95 {_pct(b.ours, 0.95) / _pct(fts.raw, 0.95):.2f}{own}"
        )
    for b in backends:
        ours_cpu, raw_cpu = statistics.mean(b.ours_cpu), statistics.mean(b.raw_cpu)
        print(
            f"search query CPU in-process [{b.name}] (all threads of the process): mean {ours_cpu * 1000:.2f} ms"
            f" | baseline its raw engine top 20 mean {raw_cpu * 1000:.2f} ms | ratio {ours_cpu / raw_cpu:.2f}"
        )
    for b in backends:
        b.index.close()

    for b in backends:
        http, rss = _http(b, tmp, cases)
        empty_port = _free_port()
        empty = _start_server(tmp, tmp / f"empty-{b.setting}", empty_port, b.setting)
        try:
            base_rss = psutil.Process(empty.pid).memory_info().rss
        finally:
            empty.terminate()
            empty.wait(timeout=30)
        own = "" if b is fts else f" ; raw tantivy top 20 {_ms(b.raw)}"
        print(
            f"search query over HTTP [{b.name}] (uvicorn 127.0.0.1): {_ms(http)} | baseline raw FTS5"
            f" {_ms(fts.raw)} | ratio p95 {_pct(http, 0.95) / _pct(fts.raw, 0.95):.2f}{own}"
        )
        print(
            f"search server memory [{b.name}]: RSS {rss / 1e6:.0f} MB with {n} rec | baseline same server,"
            f" empty index {base_rss / 1e6:.0f} MB | ratio {rss / base_rss:.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
