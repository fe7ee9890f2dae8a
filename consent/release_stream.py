"""A release decided as a stream, in a fixed memory budget whatever the number of cases.

The dataset's case rows arrive as Arrow record batches (:func:`consent.arrow_scan.stream`), the request
list is read by DuckDB from its file (or an Arrow table), and DuckDB joins them under ``memory_limit``,
spilling to the release's own scratch folder beyond it. Out of the join come record batches of
(case id, case number, reason code); each batch is counted, its permitted cases get their pseudonyms
(:mod:`consent.aes_cmac`), their numbers go into the membership bitmap (:mod:`consent.membership`) and
(pseudonym, case id) pairs are spooled into 16 files by the pseudonym's first hex digit. Each spool file
is then sorted alone and appended to the released file and the custodian's map, so both come out in
pseudonym order (the order of the cases reveals nothing) without a sort of every case at once.

The decision is the same SQL as :func:`consent.release_filter.filter_current` (tests hold the two equal).
"""

from __future__ import annotations

import binascii
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc

from consent.aes_cmac import cmac_hex_many
from consent.case_facts import micros
from consent.errors import ConsentError
from consent.membership import MembershipBuilder
from consent.release_filter import CODE, LOOK, PERMITTED, REASONS, apply_choices, configure
from schemas.consent import CHOICES, Policy

MEMBER_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("case_no", pa.int64()),
        ("code", pa.int64()),  # the reason code, decided in the database (see member_columns)
        ("subject", pa.string()),  # only where the case's subject made a purpose-scoped choice (else null)
    ]
)
"""What the release reads of each ``consent_cases`` row: its id, number, reason code and (rarely) subject."""


def member_columns(policy: Policy, at: datetime) -> tuple[dict[str, str], dict[str, int]]:
    """The SQL of ``MEMBER_SCHEMA``'s columns over ``consent_cases`` and its parameters.

    The reason code is :data:`consent.release_filter.DECISION_SQL` in the SQL both SQLite and PostgreSQL
    speak, run by the database as it scans: four narrow columns cross to Arrow instead of ten. The
    policy's two switches are written in as constant clauses (booleans, never input); the times are bound.
    Tests hold a streamed release equal to ``filter_current``, which runs the DuckDB form."""
    choice = " ".join(f"WHEN '{k.value}' THEN {CODE[k.value]}" for k in sorted(CHOICES))
    deceased = "" if policy.deceased_permits else f"WHEN deceased THEN {CODE['deceased']} "
    undelivered = (
        f"WHEN notice_undelivered_us >= notice_sent_us THEN {CODE['notice_undelivered']} "
        if policy.undelivered_notice_denies
        else ""
    )
    code = (
        f"CASE WHEN category IS NULL OR enrolled_us > :at_us THEN {CODE['not_enrolled']} {deceased}"
        f"ELSE (CASE WHEN purpose_choice THEN {LOOK} ELSE 0 END) + CASE "
        f"WHEN choice_kind IS NOT NULL THEN CASE choice_kind {choice} END "
        f"WHEN category = 'A' THEN {CODE['no_consent']} "
        f"WHEN category = 'B' THEN {CODE['category_b_default']} "
        f"WHEN notice_sent_us IS NULL THEN {CODE['notice_not_sent']} "
        f"{undelivered}"
        f"WHEN notice_sent_us > :cutoff_us THEN {CODE['notice_period_running']} "
        f"ELSE {CODE['category_c_notice_period_passed']} END END"
    )
    columns = {
        "case_id": "case_id",
        "case_no": "case_no",
        "code": code,
        "subject": "CASE WHEN purpose_choice THEN subject END",
    }
    params = {"at_us": micros(at), "cutoff_us": micros(at - timedelta(days=policy.notice_period_days))}
    return columns, params


# The join carries the four columns the outputs need; ids asked for twice count once (IN).
_STREAM_SQL = """
SELECT case_id, case_no, subject, CAST(code AS UTINYINT) AS code FROM members
WHERE case_id IN (SELECT case_id FROM req)
"""

IDS_SCHEMA = pa.schema([("case_id", pa.string())])

BATCH_ROWS = 1 << 18
SPOOLS = 16  # by the pseudonym's first hex digit
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


@dataclass
class Outcome:
    """What a streamed release decided."""

    counts: dict[str, int]  # reason -> cases
    cases_in: int  # distinct requested ids, unknown ones included
    cases_out: int
    unknown: list[str]
    membership: MembershipBuilder
    released_sha256: str


class _Hashing:
    """A binary file that also hashes what is written to it (the released file's digest, in one pass)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return self._handle.write(view)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self.closed = True


def _request(con: duckdb.DuckDBPyConnection, cases: pa.Table | Path) -> None:
    """A view ``req(case_id)`` of the requested ids: an Arrow table, or a CSV (column ``case_id`` or the
    only column) or Parquet file read by DuckDB itself."""
    if isinstance(cases, pa.Table):
        con.register("req_input", cases)
        con.sql("CREATE VIEW req AS SELECT CAST(case_id AS VARCHAR) AS case_id FROM req_input")
        return
    path = cases
    if not path.exists():
        raise ConsentError(f"case list {path} does not exist")
    quoted = str(path).replace("'", "''")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    source = f"read_parquet('{quoted}')" if parquet else f"read_csv('{quoted}', all_varchar=true, header=true)"
    try:
        names = [row[0] for row in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except duckdb.Error as exc:
        raise ConsentError(f"cannot read case list {path}: {exc}") from None
    if "case_id" in names:
        column = "case_id"
    elif len(names) == 1:
        column = f'"{names[0]}"'
    else:
        raise ConsentError(f"case list {path} needs a case_id column (found: {', '.join(names)})")
    con.sql(f"CREATE VIEW req AS SELECT CAST({column} AS VARCHAR) AS case_id FROM {source}")


@dataclass
class Decided:
    """A decided release whose files are not written yet (its spools are in ``scratch``)."""

    state: _State
    unknown: list[str]
    scratch: Path


def decide(
    members: pa.RecordBatchReader,
    rescan_ids: Callable[[], pa.RecordBatchReader],
    cases: pa.Table | Path,
    choices: pa.Table,
    dataset: str,
    covering: frozenset[str],
    secret: bytes,
    numbers: int,
    scratch_in: Path,
    memory_limit: str = "2GB",
    threads: int = 2,
) -> Decided:
    """Decide every requested case of ``members`` (a stream shaped like ``MEMBER_SCHEMA``). ``rescan_ids``
    opens a new stream of the dataset's case ids (read only when some requested ids were not found, to
    name the unknown ones). ``numbers``: the dataset's next case number (the membership bitmap's size).
    The spools go to a scratch folder made in ``scratch_in``; :func:`finish` writes the files."""
    scratch = Path(tempfile.mkdtemp(prefix=".release-", dir=scratch_in))
    con = duckdb.connect()
    try:
        configure(con, memory_limit=memory_limit, threads=threads)
        spill = str(scratch / "duckdb").replace("'", "''")
        con.sql(f"SET temp_directory = '{spill}'")
        _request(con, cases)
        try:
            (requested,) = con.sql("SELECT count(*) FROM req").fetchall()[0]
        except duckdb.Error as exc:
            raise ConsentError(f"cannot read case list: {exc}") from None
        state = _State(numbers, secret, scratch)
        con.register("members", members)
        looked: list[pa.RecordBatch] = []
        with ThreadPoolExecutor(1) as writer:
            pending = None
            for batch in con.sql(_STREAM_SQL).to_arrow_reader(BATCH_ROWS):
                codes = batch.column("code").to_numpy(zero_copy_only=False)
                look = codes >= LOOK
                if look.any():
                    looked.append(batch.filter(pa.array(look)))
                    batch = batch.filter(pa.array(~look))
                    codes = codes[~look]
                state.found += len(look)
                prepared = state.prepare(batch, codes)
                if pending is not None:
                    pending.result()
                pending = writer.submit(state.spool, prepared)
            if pending is not None:
                pending.result()
        con.unregister("members")
        if looked:
            state.spool(state.prepare(*_resolve_choices(con, looked, choices, dataset, covering)))
        unknown = _unknown(con, rescan_ids) if state.found < requested else []
        return Decided(state, unknown, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        con.close()


def finish(decided: Decided, released: Path, custodian_map: Path) -> Outcome:
    """Write the released file and the custodian's map from a decided release's spools."""
    try:
        state = decided.state
        digest = state.write_outputs(released, custodian_map)
        return Outcome(
            counts={REASONS[i]: int(n) for i, n in enumerate(state.counts) if n},
            cases_in=state.found + len(decided.unknown),
            cases_out=state.permitted,
            unknown=decided.unknown,
            membership=state.membership,
            released_sha256=digest,
        )
    finally:
        shutil.rmtree(decided.scratch, ignore_errors=True)


def _resolve_choices(
    con: duckdb.DuckDBPyConnection,
    looked: list[pa.RecordBatch],
    choices: pa.Table,
    dataset: str,
    covering: frozenset[str],
) -> tuple[pa.RecordBatch, np.ndarray]:
    """The cases whose subject made a purpose-scoped choice, with the code the winning choice gives."""
    rows = pa.Table.from_batches(looked).combine_chunks()
    codes = rows.column("code").to_numpy(zero_copy_only=False) & (LOOK - 1)
    table = pa.table({"pos": pa.array(np.arange(rows.num_rows, dtype=np.int32)), "subject": rows.column("subject")})
    apply_choices(con, table, choices, dataset, covering, codes)
    return rows.to_batches()[0] if rows.num_rows else pa.RecordBatch.from_pylist([], rows.schema), codes


def _unknown(con: duckdb.DuckDBPyConnection, rescan_ids: Callable[[], pa.RecordBatchReader]) -> list[str]:
    con.register("known", rescan_ids())
    try:
        rows = con.sql(
            "SELECT DISTINCT r.case_id FROM req r WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.case_id = r.case_id)"
        ).fetchall()
    finally:
        con.unregister("known")
    return sorted(str(r[0]) for r in rows)


class _State:
    """Counts, membership and the pseudonym spools of a release being decided."""

    def __init__(self, numbers: int, secret: bytes, scratch: Path) -> None:
        self.counts = np.zeros(len(REASONS), dtype=np.int64)
        self.membership = MembershipBuilder(numbers)
        self.found = 0
        self.permitted = 0
        self._key = secret[:16]
        self._paths = [scratch / f"spool-{i:x}.arrow" for i in range(SPOOLS)]
        self._schema = pa.schema([("release_pseudonym", pa.string()), ("case_id", pa.string())])
        self._writers: list[ipc.RecordBatchFileWriter | None] = [None] * SPOOLS

    def prepare(self, batch: pa.RecordBatch, codes: np.ndarray) -> tuple[pa.Array, pa.Array] | None:
        """Count a batch, add its permitted cases to the membership, and pseudonymise them."""
        self.counts += np.bincount(codes, minlength=len(REASONS))
        permit = PERMITTED[codes]
        count = int(np.count_nonzero(permit))
        if not count:
            return None
        self.permitted += count
        mask = pa.array(permit)
        numbers = batch.column("case_no").filter(mask)
        if numbers.null_count:
            raise ConsentError(
                "some cases of this dataset have no case number; upgrade the consent database "
                "(`fairgate init` runs its migrations), then make the release again"
            )
        self.membership.add(numbers.to_numpy())
        ids = batch.column("case_id").filter(mask)
        if not isinstance(ids, pa.StringArray):
            ids = ids.cast(pa.string())
        return cmac_hex_many(self._key, ids, np.arange(len(ids)), threads=2), ids

    def spool(self, prepared: tuple[pa.Array, pa.Array] | None) -> None:
        """Append (pseudonym, case id) pairs to the spool of their pseudonym's first hex digit."""
        if prepared is None:
            return
        pseudonyms, ids = prepared
        data = np.frombuffer(pseudonyms.buffers()[2], np.uint8, len(pseudonyms) * 32).reshape(-1, 32)
        spools = _HEX_VALUE[data[:, 0]]
        order = np.argsort(spools, kind="stable")
        bounds = np.searchsorted(spools[order], np.arange(SPOOLS + 1))
        table = pa.table({"release_pseudonym": pseudonyms, "case_id": ids}).take(pa.array(order))
        for i in range(SPOOLS):
            first, last = int(bounds[i]), int(bounds[i + 1])
            if first == last:
                continue
            writer = self._writers[i]
            if writer is None:
                writer = self._writers[i] = ipc.new_file(self._paths[i], self._schema)
            writer.write_table(table.slice(first, last - first))

    def write_outputs(self, released: Path, custodian_map: Path) -> str:
        """Sort each spool by pseudonym and append it to both files; the released file's SHA-256."""
        for writer in self._writers:
            if writer is not None:
                writer.close()
        options = pacsv.WriteOptions(include_header=True)
        with released.open("wb") as out_file, custodian_map.open("wb") as map_file:
            hashing = _Hashing(out_file)
            out = pacsv.CSVWriter(hashing, pa.schema([self._schema.field(0)]), write_options=options)
            mapped = pacsv.CSVWriter(
                map_file, pa.schema([self._schema.field(1), self._schema.field(0)]), write_options=options
            )
            for i, path in enumerate(self._paths):
                if self._writers[i] is None:
                    continue
                with ipc.open_file(path) as reader:
                    table = reader.read_all().combine_chunks()
                path.unlink()
                table = table.take(pa.array(_pseudonym_order(table.column(0).chunk(0))))
                out.write_table(table.select(["release_pseudonym"]))
                mapped.write_table(table.select(["case_id", "release_pseudonym"]))
            if not any(self._writers):
                out.write_table(pa.table({"release_pseudonym": pa.array([], pa.string())}))
                mapped.write_table(
                    pa.table({"case_id": pa.array([], pa.string()), "release_pseudonym": pa.array([], pa.string())})
                )
            out.close()
            mapped.close()
        return hashing.digest.hexdigest()


def _pseudonym_order(pseudonyms: pa.Array) -> np.ndarray:
    """The order that sorts 32-hex-digit pseudonyms (as two big-endian 64-bit halves)."""
    raw = np.frombuffer(pseudonyms.buffers()[2], np.uint8, len(pseudonyms) * 32, pseudonyms.offset * 32)
    halves = np.frombuffer(binascii.unhexlify(raw.tobytes()), dtype=">u8").reshape(-1, 2)
    return np.lexsort((halves[:, 1], halves[:, 0]))


__all__ = ["IDS_SCHEMA", "MEMBER_SCHEMA", "Decided", "Outcome", "decide", "finish", "member_columns"]
