"""Set-based release filtering: DuckDB queries over Arrow tables decide every case at once.

The same rules as :func:`consent.decide.decide`, written as SQL: ``filter_current`` over the case facts
the registry keeps on each case row (a release now), ``filter_release`` over state rows or the events
known at an audit time (any moment); tests hold both equal to ``decide``. No database of ours is touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consent.aes_cmac import cmac_hex_many
from consent.case_facts import micros
from schemas.consent import CHOICES, Policy, format_instant

PERMIT_REASONS = ("consent_given", "reconsented", "category_b_default", "category_c_notice_period_passed")

STATE_SCHEMA = pa.schema(
    [
        ("subject", pa.string()),
        ("facet", pa.string()),
        ("scope_dataset", pa.string()),
        ("scope_purpose", pa.string()),
        ("kind", pa.string()),
        ("effective_at", pa.string()),
        ("seq", pa.int64()),
    ]
)


def arrow_of(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A relation as an Arrow table (``to_arrow_table`` in DuckDB 2, ``arrow`` before)."""
    convert = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = convert()
    return table


PSEUDONYM_SCHEME = "aes128-cmac-128"
"""Per-release case pseudonym: AES-CMAC (RFC 4493) of the case id's UTF-8 under the first 16 bytes of the
release secret, as 32 hex digits. CMAC is a standard PRF for messages of any length; a case id of up
to 16 bytes costs one AES block (AES-NI), computed in bulk with numpy (:mod:`consent.aes_cmac`): at 10
million cases that is a fraction of the SHA-256 per case the previous scheme cost DuckDB.

``SHA256_SCHEME`` (``sha256-k128-128``): the first 32 hex digits of SHA-256(hex(first 16 bytes of the
release secret) || case id).

The release secret is HMAC-SHA256(registry key, "release:" + release id), so it is unique to the release
and never stored: two releases' pseudonyms cannot be joined without the registry key, and a release is
reproduced exactly for an audit. A secret prefix is a sound PRF here because the output is truncated to
128 bits (no length extension). The key is 128 bits (32 hex digits) so that key and a case id of up to
23 bytes fill one SHA-256 block: one compression per case instead of two, which halved the hashing time.
Earlier releases record ``sha256-prefix-128`` (the whole 32-byte secret as 64 hex digits, two blocks) or
``hmac-sha256-128`` (HMAC-SHA256(secret, case id)); both are still reproduced for audits."""

SHA256_SCHEME = "sha256-k128-128"
PREFIX_SCHEME = "sha256-prefix-128"
LEGACY_PSEUDONYM_SCHEME = "hmac-sha256-128"


def _hmac_pads(secret: bytes) -> tuple[str, str]:
    key = secret.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def _pseudonym_params(scheme: str, secret: bytes) -> dict[str, object]:
    if scheme == PSEUDONYM_SCHEME:
        return {}
    if scheme == SHA256_SCHEME:
        return {"secret_hex": secret[:16].hex()}
    if scheme == PREFIX_SCHEME:
        return {"secret_hex": secret.hex()}
    ipad, opad = _hmac_pads(secret)
    return {"ipad": ipad, "opad": opad}


_PSEUDONYM_SQL = {
    PSEUDONYM_SCHEME: "NULL::VARCHAR",  # computed after the query (numpy), see _with_cmac
    SHA256_SCHEME: "substr(sha256($secret_hex || case_id), 1, 32)",
    PREFIX_SCHEME: "substr(sha256($secret_hex || case_id), 1, 32)",
    LEGACY_PSEUDONYM_SCHEME: "substr(sha256(unhex($opad) || unhex(sha256(unhex($ipad) || encode(case_id)))), 1, 32)",
}

# Why this shape: at 10 million cases every hash join or aggregate over the case list costs seconds on
# two cores, so there are as few as possible and they carry little. The requested cases are found with one
# semi-join (membership probes a hash of the request, which also drops repeated ids); unknown ids are looked
# for only when that finds fewer rows than were asked for. Choices (few rows) and notices (many) are folded
# separately, the notice fold reduced to its verdict, and both joined into one table of subjects with state;
# each enrolled subject's reason is decided from it before the cases are touched, so a case makes one probe
# and carries a one-byte ENUM reason instead of timestamps.
_SQL = """
WITH st AS (SELECT * FROM state WHERE scope_dataset IN ('*', $dataset) AND effective_at <= $at),
ch AS (
  -- the winning choice: latest effective time, then the broader scope, then the later event
  SELECT subject,
         arg_max(kind, effective_at
                 || CAST(2 - CAST(scope_dataset <> '*' AS INTEGER) - CAST(scope_purpose <> '*' AS INTEGER) AS VARCHAR)
                 || lpad(CAST(seq AS VARCHAR), 12, '0')) AS choice
  FROM st WHERE facet = 'choice' AND (scope_purpose = '*' OR list_contains($covering, scope_purpose))
  GROUP BY subject
),
nt AS (
  SELECT subject,
         CASE
           WHEN sent IS NULL THEN 'notice_not_sent'
           WHEN $undelivered_denies AND und IS NOT NULL AND und >= sent THEN 'notice_undelivered'
           WHEN sent > $cutoff THEN 'notice_period_running'
           ELSE 'category_c_notice_period_passed'
         END AS notice,
         dead
  FROM (
    SELECT subject,
           max(effective_at) FILTER (WHERE facet = 'notice_sent') AS sent,
           max(effective_at) FILTER (WHERE facet = 'notice_undelivered') AS und,
           bool_or(facet = 'deceased') AS dead
    FROM st WHERE facet <> 'choice'
    GROUP BY subject
  )
),
-- one table of the subjects with any state, so each case probes it once
sx AS (SELECT subject, ch.choice, nt.notice, nt.dead FROM nt FULL JOIN ch USING (subject)),
-- each enrolled subject's reason, decided before the case list is touched
sd AS (
  SELECT en.subject, CAST(
    CASE
      WHEN en.enrolled_at > $at THEN 'not_enrolled'
      WHEN NOT $deceased_permits AND coalesce(sx.dead, false) THEN 'deceased'
      WHEN sx.choice IS NOT NULL THEN sx.choice
      WHEN en.category = 'A' THEN 'no_consent'
      WHEN en.category = 'B' THEN 'category_b_default'
      ELSE coalesce(sx.notice, 'notice_not_sent')
    END AS {reasons}) AS reason
  FROM enrolments en LEFT JOIN sx ON sx.subject = en.subject
),
c AS (SELECT case_id, subject FROM membership WHERE case_id IN (SELECT CAST(case_id AS VARCHAR) FROM cases)),
decided AS (
  SELECT c.case_id, c.subject, coalesce(sd.reason, CAST('not_enrolled' AS {reasons})) AS reason
  FROM c LEFT JOIN sd ON sd.subject = c.subject
)
SELECT case_id, subject, reason, reason IN ({permits}) AS permit,
       CASE WHEN reason IN ({permits}) THEN {pseudonym} END AS release_pseudonym
FROM decided
"""

# Requested ids that are not cases of the dataset, once each (NOT EXISTS keeps a missing id too).
_UNKNOWN_SQL = """
SELECT DISTINCT r.case_id, NULL::VARCHAR AS subject, CAST('unknown_case' AS {reasons}) AS reason, false AS permit,
       NULL::VARCHAR AS release_pseudonym
FROM (SELECT CAST(case_id AS VARCHAR) AS case_id FROM cases) r
WHERE NOT EXISTS (SELECT 1 FROM membership m WHERE m.case_id = r.case_id)
"""


_PERMITS = ", ".join(f"'{r}'" for r in PERMIT_REASONS)
# Every reason a case can get, as an ENUM: the column arrives in Arrow dictionary-encoded (one byte a row).
REASONS = (
    "unknown_case",
    "not_enrolled",
    "deceased",
    *sorted(k.value for k in CHOICES),
    "no_consent",
    "category_b_default",
    "notice_not_sent",
    "notice_undelivered",
    "notice_period_running",
    "category_c_notice_period_passed",
)
_REASON_TYPE = "ENUM(" + ", ".join(f"'{r}'" for r in REASONS) + ")"


def configure(con: duckdb.DuckDBPyConnection, memory_limit: str | None = None, threads: int | None = None) -> None:
    """Bound DuckDB's memory (it spills beyond it) and threads; row order is not needed by any caller."""
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")


def filter_release(
    cases: pa.Table,
    membership: pa.Table,
    enrolments: pa.Table,
    state: pa.Table,
    dataset: str,
    covering: frozenset[str],
    policy: Policy,
    at: datetime,
    secret: bytes,
    con: duckdb.DuckDBPyConnection | None = None,
    scheme: str = PSEUDONYM_SCHEME,
) -> pa.Table:
    """Decide every requested case; return case_id, subject, reason, permit, release_pseudonym.

    ``cases``: case_id. ``membership``: case_id, subject of the dataset. ``enrolments``: subject,
    category, enrolled_at of the dataset. ``state``: rows shaped like ``STATE_SCHEMA``.
    """
    if scheme not in _PSEUDONYM_SQL:
        raise ValueError(f"unknown release pseudonym scheme {scheme!r} (known: {', '.join(_PSEUDONYM_SQL)})")
    db = con or duckdb.connect()
    if con is None:
        configure(db)
    db.register("cases", cases)
    db.register("membership", membership)
    db.register("enrolments", enrolments)
    db.register("state", state)
    decide_params: dict[str, object] = {
        "dataset": dataset,
        "at": format_instant(at),
        "cutoff": format_instant(at - timedelta(days=policy.notice_period_days)),
        "covering": sorted(covering),
        "deceased_permits": policy.deceased_permits,
        "undelivered_denies": policy.undelivered_notice_denies,
    }
    try:
        sql = _SQL.format(permits=_PERMITS, reasons=_REASON_TYPE, pseudonym=_PSEUDONYM_SQL[scheme])
        decided = arrow_of(db.sql(sql, params={**decide_params, **_pseudonym_params(scheme, secret)}))
        if scheme == PSEUDONYM_SCHEME:
            decided = _with_cmac(decided, secret)
        if decided.num_rows < cases.num_rows:  # some ids are repeated or unknown: report the unknown ones
            unknown = arrow_of(db.sql(_UNKNOWN_SQL.format(reasons=_REASON_TYPE))).cast(decided.schema)
            decided = pa.concat_tables([decided, unknown])
        return decided
    finally:
        for name in ("cases", "membership", "enrolments", "state"):
            db.unregister(name)
        if con is None:
            db.close()


def _with_cmac(decided: pa.Table, secret: bytes) -> pa.Table:
    """``decided`` with the release pseudonyms of its permitted rows (``PSEUDONYM_SCHEME``) filled in."""
    permitted = decided.filter(decided.column("permit"))
    denied = decided.filter(pc.invert(decided.column("permit")))
    ids = permitted.column("case_id").combine_chunks()
    pseudonyms = cmac_hex_many(secret[:16], ids, np.arange(len(ids)))
    permitted = permitted.set_column(
        permitted.schema.get_field_index("release_pseudonym"), "release_pseudonym", pseudonyms
    )
    return pa.concat_tables([permitted, denied.cast(permitted.schema)])


# --- current state: one scan of the case facts -----------------------------------------------------

CASE_FACTS_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("subject", pa.string()),
        ("category", pa.string()),
        ("enrolled_us", pa.int64()),
        ("notice_sent_us", pa.int64()),
        ("notice_undelivered_us", pa.int64()),
        ("deceased", pa.bool_()),
        ("choice_kind", pa.string()),
        ("choice_us", pa.int64()),
        ("choice_rank", pa.int64()),
        ("choice_seq", pa.int64()),
        ("purpose_choice", pa.bool_()),
    ]
)
"""The ``consent_cases`` rows of a dataset as stored (facts: :mod:`consent.case_facts`)."""

CODE = {r: i for i, r in enumerate(REASONS)}
LOOK = 32  # flag on a case's code: its subject has a choice that may apply, decided in the second query
_REASON_ARROW = pa.dictionary(pa.uint8(), pa.string())

# Why this shape: the baseline of a release is one hash join of the requested ids with the dataset's
# cases, and everything else must stay small beside it. Each case is decided from the facts on its own
# row, its winning all-purpose choice included (no join to enrolments, notices or choices); only cases
# whose subject made a choice scoped to one purpose are looked up among the choices, in a second query.
# Out come a row position and a one-byte code per case; ids, subjects and pseudonyms are then taken from
# the inputs by position.
_CHOICE_CODES = " ".join(f"WHEN '{k.value}' THEN {CODE[k.value]}" for k in sorted(CHOICES))
DECISION_SQL = f"""CAST(CASE
  WHEN category IS NULL OR enrolled_us > $at_us THEN {CODE["not_enrolled"]}
  WHEN NOT $deceased_permits AND deceased THEN {CODE["deceased"]}
  ELSE (CASE WHEN purpose_choice THEN {LOOK} ELSE 0 END) + CASE
    WHEN choice_kind IS NOT NULL THEN CASE choice_kind {_CHOICE_CODES} END
    WHEN category = 'A' THEN {CODE["no_consent"]}
    WHEN category = 'B' THEN {CODE["category_b_default"]}
    WHEN notice_sent_us IS NULL THEN {CODE["notice_not_sent"]}
    WHEN $undelivered_denies AND notice_undelivered_us >= notice_sent_us THEN {CODE["notice_undelivered"]}
    WHEN notice_sent_us > $cutoff_us THEN {CODE["notice_period_running"]}
    ELSE {CODE["category_c_notice_period_passed"]}
  END
END AS UTINYINT)"""
"""A case's reason code from the facts on its row (``LOOK`` added when a purpose-scoped choice may apply)."""

_CURRENT_SQL = f"""
SELECT idx, code FROM (SELECT idx, case_id, {DECISION_SQL} AS code
FROM members)  -- decided below the join, so that the join carries two narrow columns, not eight
WHERE case_id IN (SELECT CAST(case_id AS VARCHAR) FROM cases)
"""

# The winning choice per looked-up case: latest effective time, then the broader scope, then the later event.
CHOICE_SQL = f"""
SELECT s.pos, CAST(arg_max(CASE c.kind {" ".join(f"WHEN '{k.value}' THEN {CODE[k.value]}" for k in CHOICES)} END,
       (c.effective_at, 2 - CAST(c.scope_dataset <> '*' AS INTEGER) - CAST(c.scope_purpose <> '*' AS INTEGER), c.seq))
       AS UTINYINT) AS code
FROM looked s JOIN choices c ON c.subject = s.subject
WHERE c.facet = 'choice' AND c.scope_dataset IN ('*', $dataset)
  AND (c.scope_purpose = '*' OR list_contains($covering, c.scope_purpose))
GROUP BY s.pos
"""

_UNKNOWN_CURRENT_SQL = """
SELECT DISTINCT r.case_id FROM (SELECT CAST(case_id AS VARCHAR) AS case_id FROM cases) r
WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.case_id = r.case_id)
"""

PERMITTED = np.zeros(len(REASONS), dtype=bool)
PERMITTED[[CODE[r] for r in PERMIT_REASONS]] = True


def apply_choices(
    db: duckdb.DuckDBPyConnection,
    looked: pa.Table,
    choices: pa.Table,
    dataset: str,
    covering: frozenset[str],
    codes: np.ndarray,
) -> None:
    """Set ``codes[pos]`` of each looked-up case (``looked``: pos, subject) whose subject has a choice that
    applies to this dataset and use to the winning choice's code (``CHOICE_SQL``)."""
    db.register("looked", looked)
    db.register("choices", choices)
    try:
        found = arrow_of(db.sql(CHOICE_SQL, params={"dataset": dataset, "covering": sorted(covering)}))
    finally:
        db.unregister("looked")
        db.unregister("choices")
    codes[found.column("pos").to_numpy()] = found.column("code").to_numpy()


def _reasons(codes: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.uint8()), pa.array(REASONS, pa.string()))


def batched(table: pa.Table, rows: int = 1 << 17) -> pa.Table:
    """``table`` as zero-copy slices: DuckDB scans an Arrow table one batch per thread, so a table of one
    big chunk (as the registry's loader builds it) would be read by one thread alone."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), table.schema)


def _pooled(n: int, dtype: type[np.generic]) -> np.ndarray:
    """An uninitialised numpy array in memory from Arrow's pool, which reuses freed pages: a fresh page
    from the kernel costs a fault per 4 KiB, and the arrays here run to tens of megabytes."""
    return np.frombuffer(pa.allocate_buffer(n * np.dtype(dtype).itemsize), dtype)


def _concatenate(column: pa.ChunkedArray, out: np.ndarray) -> None:
    at = 0
    for chunk in column.chunks:
        out[at : at + len(chunk)] = chunk.to_numpy()
        at += len(chunk)


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _positions(rows: np.ndarray | None, values: pa.Array, nulls: int = 0) -> pa.DictionaryArray:
    """``values[rows]`` without a copy (or ``nulls`` missing values)."""
    indices = pa.array(rows, pa.int32()) if rows is not None else pa.nulls(nulls, pa.int32())
    return pa.DictionaryArray.from_arrays(indices, values)


def filter_current(
    cases: pa.Table,
    members: pa.Table,
    choices: pa.Table,
    dataset: str,
    covering: frozenset[str],
    policy: Policy,
    at: datetime,
    secret: bytes,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table:
    """Decide every requested case from current state; the same rows as :func:`filter_release`
    (``PSEUDONYM_SCHEME``), permitted rows first, ``case_id`` and ``subject`` dictionary-encoded.

    ``members``: the dataset's case rows shaped like ``CASE_FACTS_SCHEMA``. ``choices``: state rows
    (``STATE_SCHEMA``) of facet ``choice`` of its subjects. Valid for ``at`` no earlier than the last
    recorded event (as :func:`consent.state.decide_current`); audits use :func:`filter_release`.
    """
    db = con or duckdb.connect()
    if con is None:
        configure(db)
    ids = _one_chunk(members.column("case_id"))
    positions = _pooled(members.num_rows, np.int32)
    positions[:] = np.arange(members.num_rows, dtype=np.int32)
    scanned = members.select([c for c in CASE_FACTS_SCHEMA.names if c != "subject"])
    scanned = scanned.append_column("idx", pa.array(positions))
    db.register("members", batched(scanned))
    db.register("cases", batched(cases))
    try:
        decided = arrow_of(
            db.sql(
                _CURRENT_SQL,
                params={
                    "at_us": micros(at),
                    "cutoff_us": micros(at - timedelta(days=policy.notice_period_days)),
                    "deceased_permits": policy.deceased_permits,
                    "undelivered_denies": policy.undelivered_notice_denies,
                },
            )
        )
        rows = _pooled(decided.num_rows, np.int32)
        codes = _pooled(decided.num_rows, np.uint8)
        _concatenate(decided.column("idx"), rows)
        _concatenate(decided.column("code"), codes)
        look = np.nonzero(codes >= LOOK)[0]
        codes &= LOOK - 1
        if len(look):
            looked = pa.table(
                {
                    "pos": pa.array(look.astype(np.int32)),
                    "subject": members.column("subject").take(pa.array(rows[look])),
                }
            )
            apply_choices(db, looked, choices, dataset, covering, codes)
        permit = np.take(PERMITTED, codes, out=_pooled(len(codes), np.bool_))
        unknown = (
            _one_chunk(arrow_of(db.sql(_UNKNOWN_CURRENT_SQL)).column("case_id"))
            if len(rows) < cases.num_rows
            else pa.array([], pa.string())
        )
    finally:
        db.unregister("members")
        db.unregister("cases")
        if con is None:
            db.close()
    refused = np.logical_not(permit, out=_pooled(len(permit), np.bool_))
    count = int(np.count_nonzero(permit))
    yes = np.compress(permit, rows, out=_pooled(count, np.int32))
    no = np.compress(refused, rows, out=_pooled(len(rows) - count, np.int32))
    subjects = _one_chunk(members.column("subject"))
    # Ids and subjects as dictionary arrays over the loaded columns (row positions as indices): the same
    # values as dense strings, without copying a gigabyte of them at 10 million cases.
    parts = [
        pa.table(
            {
                "case_id": _positions(yes, ids),
                "subject": _positions(yes, subjects),
                "reason": _reasons(codes[permit]),
                "permit": pa.array(np.ones(len(yes), dtype=bool)),
                "release_pseudonym": cmac_hex_many(secret[:16], ids, yes, threads=2),
            }
        ),
        pa.table(
            {
                "case_id": _positions(no, ids),
                "subject": _positions(no, subjects),
                "reason": _reasons(codes[refused]),
                "permit": pa.array(np.zeros(len(no), dtype=bool)),
                "release_pseudonym": pa.nulls(len(no), pa.string()),
            }
        ),
        pa.table(
            {
                "case_id": _positions(np.arange(len(unknown), dtype=np.int32), unknown.cast(pa.string())),
                "subject": _positions(None, pa.array([], pa.string()), len(unknown)),
                "reason": _reasons(np.full(len(unknown), CODE["unknown_case"], np.uint8)),
                "permit": pa.array(np.zeros(len(unknown), dtype=bool)),
                "release_pseudonym": pa.nulls(len(unknown), pa.string()),
            }
        ),
    ]
    return pa.concat_tables(parts)
