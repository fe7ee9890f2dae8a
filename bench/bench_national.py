"""National-scale enrolment: N subjects (default 25,000,000) with 4 cases each, imported from one CSV by
``fairgate consent enrol`` (its own process, so its peak memory is measured alone), on SQLite and on
PostgreSQL, beside a bare bulk insert of the same final rows into the same tables in the same run
(executemany in one transaction on SQLite, COPY on PostgreSQL).

Makes its own data: valid national ids, 20 institutions, 10 datasets, categories A 10% / B 30% / C 60%.
``--subjects 2500000`` is the 1/10 run; ``--backend sqlite`` or ``postgresql`` runs one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import psutil
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from consent.pseudonyms import taiwan_check_digit

DATASETS = [f"dg.NHI/00000000-0000-4000-8000-{n:012d}" for n in range(10)]
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
            out.write(f"{national_id(n)},H{n % 20:02d},{DATASETS[n % 10]},{categories[n % 10]},{cases},2024-01-01\n")
    return path.stat().st_size


def run_enrol(folder: Path, url: str, file: Path) -> tuple[float, float]:
    """``fairgate consent enrol`` in its own process: seconds and peak resident memory (GB, sampled)."""
    env = {
        **os.environ,
        "FAIRGATE_DATA_DIR": str(folder),
        "FAIRGATE_CONSENT_DATABASE_URL": url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),  # this checkout's code, whatever is installed
    }
    start = time.perf_counter()
    child = subprocess.Popen(
        [str(Path(sys.executable).with_name("fairgate")), "consent", "enrol", str(file)],
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
        raise SystemExit(f"fairgate consent enrol failed:\n{out}\n{err}")
    return seconds, peak / (1 << 30)


def final_rows(url: str, folder: Path) -> tuple[Path, Path]:
    """The rows the import stored, exported to Parquet: the baseline inserts exactly these."""
    enrolments, cases = folder / "enrolments.parquet", folder / "cases.parquet"
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        for table, target in (("consent_enrolments", enrolments), ("consent_cases", cases)):
            cursor = con.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cursor.description]
            writer: pq.ParquetWriter | None = None
            while block := cursor.fetchmany(500_000):
                batch = pa.table(dict(zip(names, (list(c) for c in zip(*block, strict=True)), strict=True)))
                writer = writer or pq.ParquetWriter(target, batch.schema)
                writer.write_table(batch.cast(writer.schema))
            if writer:
                writer.close()
        con.close()
        return enrolments, cases
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        for table, target in (("consent_enrolments", enrolments), ("consent_cases", cases)):
            with conn.cursor() as cur:
                csv_path = target.with_suffix(".csv")
                with csv_path.open("wb") as out, cur.copy(f"COPY {table} TO STDOUT (FORMAT csv, HEADER)") as copy:
                    for data in copy:
                        out.write(data)
            duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar=true)) TO '{target}'")
            csv_path.unlink()
    return enrolments, cases


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


def bench_backend(backend: str, file: Path, subjects: int, work: Path) -> None:
    folder = work / backend
    folder.mkdir()
    if backend == "sqlite":
        url, base_url = f"sqlite:///{folder / 'consent.db'}", f"sqlite:///{folder / 'bare.db'}"
    else:
        url, base_url = _fresh_pg(), _fresh_pg()
    try:
        seconds, peak_gb = run_enrol(folder, url, file)
        enrolments, cases = final_rows(url, folder)
        if backend == "sqlite":
            (folder / "consent.db").unlink()  # room on disk for the baseline's copy
            for extra in folder.glob("consent.db-*"):
                extra.unlink()
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=25_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="100,000 subjects")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    subjects = 100_000 if args.quick else args.subjects
    with tempfile.TemporaryDirectory(prefix="fairgate-national-", dir=args.work) as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        size = write_file(work / "enrol.csv", subjects)
        print(f"generated {subjects:,} rows ({size / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s")
        for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            bench_backend(backend, work / "enrol.csv", subjects, work)


if __name__ == "__main__":
    main()
