"""National scale: N subjects (default 25,000,000) with 4 cases each in one national dataset, on SQLite and on
PostgreSQL, each step through the steward's command in its own process (so its peak memory is its own):

- enrolment from one CSV by ``fairgate consent enrol``, beside a bare bulk insert of the same final rows
  into the same tables in the same run (executemany in one transaction on SQLite, COPY on PostgreSQL);
- a release of every case by ``fairgate release create`` after 1.4% of the subjects opted out (Table 7),
  released file, manifest and stored membership included, beside DuckDB's plain anti-join of the same
  cases and opt-outs exported to Parquet, request list to CSV file (same run).

Makes its own data: valid national ids, 20 institutions, categories A 10% / B 30% / C 60% (no notices
are sent here, so category C is held back as ``notice_not_sent``: the release still decides every case).
``--subjects 2500000`` is the 1/10 run; ``--backend sqlite`` or ``postgresql`` runs one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psutil
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from consent.pseudonyms import taiwan_check_digit

DATASET = "dg.NHI/00000000-0000-4000-8000-000000000001"
OPTED_OUT_PER_MILLE = 14  # Table 7: 1.4% of the notified opted out
CASES_PER_SUBJECT = 4
PG_ADMIN = os.environ.get("FAIRGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LETTERS = "ABCDEFGHJKLMNPQRSTUV"


def national_id(n: int) -> str:
    prefix = f"{LETTERS[n // 20_000_000 % len(LETTERS)]}{1 + n // 10_000_000 % 2}{n % 10_000_000:07d}"
    return prefix + taiwan_check_digit(prefix)


def write_file(path: Path, subjects: int) -> int:
    """The enrolment CSV; returns its size in bytes."""
    categories = "ABBBCCCCCC"
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write("national_id,institution,dataset,category,case_ids,enrolled_on\n")
        for n in range(subjects):
            cases = ";".join(f"{n}-{k}" for k in range(CASES_PER_SUBJECT))
            out.write(f"{national_id(n)},H{n % 20:02d},{DATASET},{categories[n % 10]},{cases},2024-01-01\n")
    return path.stat().st_size


def run_fairgate(folder: Path, url: str, *args: str) -> tuple[float, float]:
    """``fairgate ARGS`` in its own process: seconds and peak resident memory (GB, sampled)."""
    env = {
        **os.environ,
        "FAIRGATE_DATA_DIR": str(folder),
        "FAIRGATE_CONSENT_DATABASE_URL": url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),  # this checkout's code, whatever is installed
    }
    start = time.perf_counter()
    child = subprocess.Popen(
        [str(Path(sys.executable).with_name("fairgate")), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, watched.memory_info().rss)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"fairgate {' '.join(args)} failed:\n{out}\n{err}")
    return seconds, peak / (1 << 30)


def export_parquet(url: str, sql: str, target: Path) -> Path:
    """A query's rows written to Parquet (not timed: the baselines read the same rows from files)."""
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        writer: pq.ParquetWriter | None = None
        while block := cursor.fetchmany(500_000):
            batch = pa.table(dict(zip(names, (list(c) for c in zip(*block, strict=True)), strict=True)))
            writer = writer or pq.ParquetWriter(target, batch.schema)
            writer.write_table(batch.cast(writer.schema))
        if writer:
            writer.close()
        con.close()
        return target
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    csv_path = target.with_suffix(".csv")
    copy_out = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
    with psycopg.connect(raw) as conn, conn.cursor() as cur, csv_path.open("wb") as out, cur.copy(copy_out) as copy:
        for data in copy:
            out.write(data)
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar=true)) TO '{target}'")
    csv_path.unlink()
    return target


def final_rows(url: str, folder: Path) -> tuple[Path, Path]:
    """The rows the import stored: the baseline inserts exactly these."""
    return (
        export_parquet(url, "SELECT * FROM consent_enrolments", folder / "enrolments.parquet"),
        export_parquet(url, "SELECT * FROM consent_cases", folder / "cases.parquet"),
    )


def bare_insert(url: str, enrolments: Path, cases: Path) -> float:
    """Seconds to insert the stored rows into fresh tables of the same schema: executemany in one
    transaction (SQLite) or COPY (PostgreSQL)."""
    from consent.database import create_schema, make_engine

    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    start = time.perf_counter()
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("BEGIN")
        for table, source in (("consent_enrolments", enrolments), ("consent_cases", cases)):
            for batch in pq.ParquetFile(source).iter_batches(200_000):
                names = batch.schema.names
                marks = ", ".join("?" for _ in names)
                rows = zip(*(c.to_pylist() for c in batch.columns), strict=True)
                con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
        con.execute("COMMIT")
        con.close()
    else:
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(raw) as conn, conn.cursor() as cur:
            for table, source in (("consent_enrolments", enrolments), ("consent_cases", cases)):
                names = pq.read_schema(source).names
                csv_path = source.with_suffix(".load.csv")
                duckdb.sql(f"COPY (SELECT * FROM '{source}') TO '{csv_path}' (HEADER false)")
                with (
                    cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy,
                    csv_path.open("rb") as data,
                ):
                    while block := data.read(1 << 20):
                        copy.write(block)
                csv_path.unlink()
    return time.perf_counter() - start


def _fresh_pg() -> str:
    name = f"fairgate_bench_{os.getpid()}_{time.monotonic_ns() % 10**8}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return "postgresql+psycopg://" + PG_ADMIN.removeprefix("postgresql://").rsplit("/", 1)[0] + f"/{name}"


def _drop_pg(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_backend(
    backend: str, file: Path, subjects: int, work: Path, release: bool = True, baseline: bool = True
) -> None:
    folder = work / backend
    folder.mkdir()
    if backend == "sqlite":
        url, base_url = f"sqlite:///{folder / 'consent.db'}", f"sqlite:///{folder / 'bare.db'}"
    else:
        url, base_url = _fresh_pg(), _fresh_pg()
    try:
        seconds, peak_gb = run_fairgate(folder, url, "consent", "enrol", str(file))
        print(f"  (enrolment {backend} done in {seconds:.1f} s, peak {peak_gb:.2f} GB; baseline next)", flush=True)
        if release:
            bench_release(folder, url, subjects)
        if not baseline:
            print(
                f"enrolment {backend}: {subjects:,} subjects through `fairgate consent enrol` {seconds:.1f} s "
                f"({subjects / seconds:,.0f} subjects/s), peak {peak_gb:.2f} GB (baseline skipped: --no-baseline)"
            )
            return
        enrolments, cases = final_rows(url, folder)
        # Room on disk for the baseline's copy: at full size each copy is tens of gigabytes.
        if backend == "sqlite":
            for stale in folder.glob("consent.db*"):
                stale.unlink()
        else:
            _drop_pg(url)
        bare = bare_insert(base_url, enrolments, cases)
        rows = subjects * CASES_PER_SUBJECT
        print(
            f"enrolment {backend}: {subjects:,} subjects, {rows:,} cases through `fairgate consent enrol` "
            f"{seconds:.1f} s ({subjects / seconds:,.0f} subjects/s), peak {peak_gb:.2f} GB; "
            f"bare bulk insert of the same rows {bare:.1f} s; ratio {seconds / bare:.2f}x"
        )
    finally:
        if backend == "postgresql":
            _drop_pg(url)
            _drop_pg(base_url)


def bench_release(folder: Path, url: str, subjects: int) -> None:
    """1.4% opt out (recorded through the registry), then ``fairgate release create`` of every case."""
    from consent.registry import ConsentRegistry
    from consent.settings import ConsentSettings
    from schemas.consent import Channel, EventKind, EventRequest

    registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=folder, consent_database_url=url))
    chosen = [n for n in range(subjects) if n * 7919 % 1000 < OPTED_OUT_PER_MILLE]
    when = datetime(2025, 6, 1, tzinfo=UTC)
    for start in range(0, len(chosen), 20_000):
        registry.append(
            [
                EventRequest(
                    subject=registry.pseudonymiser.subject(national_id(n)),
                    kind=EventKind.OPTED_OUT,
                    effective_at=when,
                    channel=Channel.PAPER,
                    actor="bench",
                )
                for n in chosen[start : start + 20_000]
            ]
        )
    lookups(registry, subjects, url)
    registry.engine.dispose()
    request = folder / "request.csv"
    with request.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write("case_id\n")
        for n in range(subjects):
            out.write("".join(f"{n}-{k}\n" for k in range(CASES_PER_SUBJECT)))
    until = (date.today() + timedelta(days=180)).isoformat()
    out_dir = folder / "release"
    seconds, peak_gb = run_fairgate(
        folder, url, "release", "create", "--application", "APP-NATIONAL", "--dataset", DATASET,
        "--purpose", "HMB", "--cases", str(request), "--out", str(out_dir), "--active-until", until,
    )  # fmt: skip
    manifest = json.loads((out_dir / "manifest.json").read_text())
    baseline = duckdb_anti_join(folder, url, request)
    print(
        f"release {url.split(':')[0]}: {manifest['cases_in']:,} cases in, {manifest['cases_out']:,} out, "
        f"{len(chosen):,} opted out; `fairgate release create` {seconds:.1f} s, peak {peak_gb:.2f} GB; "
        f"DuckDB anti-join of the same cases and opt-outs {baseline:.1f} s; ratio {seconds / baseline:.2f}x"
    )


def lookups(registry: Any, subjects: int, url: str) -> None:
    """A person's decisions (``current_decisions``: audited, state and enrolments read, decided) for 2,000
    random people, p50 and p99, beside a bare primary-key read of the same person's enrolment row."""
    import random

    from sqlalchemy import text

    rng = random.Random(7)
    people = [registry.pseudonymiser.subject(national_id(rng.randrange(subjects))) for _ in range(2_000)]
    decided, bare = [], []
    probe = text("SELECT category FROM consent_enrolments WHERE subject = :s AND dataset = :d")
    with registry.engine.connect() as conn:
        for subject in people:
            start = time.perf_counter()
            conn.execute(probe, {"s": subject, "d": DATASET}).first()
            bare.append(time.perf_counter() - start)
    for subject in people:
        start = time.perf_counter()
        registry.current_decisions(subject)
        decided.append(time.perf_counter() - start)

    def pct(values: list[float], q: float) -> float:
        return sorted(values)[int(q * (len(values) - 1))] * 1000

    print(
        f"look-up {url.split(':')[0]}: a person's decisions p50 {pct(decided, 0.5):.2f} ms, "
        f"p99 {pct(decided, 0.99):.2f} ms ({subjects:,} subjects); "
        f"bare primary-key read p50 {pct(bare, 0.5):.2f} ms, p99 {pct(bare, 0.99):.2f} ms"
    )


def duckdb_anti_join(folder: Path, url: str, request: Path) -> float:
    """The plain anti-join: requested cases minus the cases of subjects who opted out, to CSV. Inputs are
    exported to Parquet first (not timed)."""
    cases = export_parquet(url, "SELECT case_id, subject FROM consent_cases", folder / "anti_cases.parquet")
    opted_sql = "SELECT subject FROM consent_state WHERE kind = 'opted_out'"
    opted = export_parquet(url, opted_sql, folder / "anti_opted.parquet")
    con2 = duckdb.connect()
    start = time.perf_counter()
    con2.execute(
        f"""COPY (SELECT r.case_id FROM read_csv('{request}', all_varchar=true) r
                  ANTI JOIN (SELECT c.case_id FROM '{cases}' c SEMI JOIN '{opted}' o USING (subject)) x
                  USING (case_id)) TO '{folder / "anti_out.csv"}'"""
    )
    seconds = time.perf_counter() - start
    con2.close()
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=25_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="100,000 subjects")
    parser.add_argument(
        "--no-release", action="store_true", help="enrolment only (the release needs ~0.5 GB per 1M cases)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the enrolment's bare-insert baseline (half the run at full size)",
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    subjects = 100_000 if args.quick else args.subjects
    with tempfile.TemporaryDirectory(prefix="fairgate-national-", dir=args.work) as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        size = write_file(work / "enrol.csv", subjects)
        print(f"generated {subjects:,} rows ({size / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s")
        for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            bench_backend(
                backend, work / "enrol.csv", subjects, work, release=not args.no_release, baseline=not args.no_baseline
            )


if __name__ == "__main__":
    main()
