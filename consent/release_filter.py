"""Set-based release filtering: one DuckDB query over Arrow tables decides every case at once.

The same rules as :func:`consent.decide.decide`, written as SQL over the materialised state (or over
the events known at an audit time); tests hold the two equal. No database of ours is touched here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from schemas.consent import Policy, format_instant

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


PSEUDONYM_SCHEME = "sha256-prefix-128"
"""Per-release case pseudonym: the first 32 hex digits of SHA-256(hex(release secret) || case id).

The release secret is HMAC-SHA256(registry key, "release:" + release id), so it is unique to the release
and never stored: two releases' pseudonyms cannot be joined without the registry key, and a release is
reproduced exactly for an audit. A secret prefix is a sound PRF here because the output is truncated to
128 bits (no length extension), and it costs one SHA-256 per case instead of HMAC's two.
Releases made before it record ``hmac-sha256-128`` (HMAC-SHA256(secret, case id), first 32 hex digits)."""

LEGACY_PSEUDONYM_SCHEME = "hmac-sha256-128"


def _hmac_pads(secret: bytes) -> tuple[str, str]:
    key = secret.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


_PSEUDONYM_SQL = {
    PSEUDONYM_SCHEME: "substr(sha256($secret_hex || case_id), 1, 32)",
    LEGACY_PSEUDONYM_SCHEME: "substr(sha256(unhex($opad) || unhex(sha256(unhex($ipad) || encode(case_id)))), 1, 32)",
}

# Why this shape: every step over the full case list is a hash join or aggregate, and at 10 million rows
# each costs seconds on two cores, so there are as few as possible. Choices (few rows) and notices (many)
# are folded separately, and the latest choice is picked with a sortable text key instead of a STRUCT.
_SQL = """
WITH req AS (SELECT DISTINCT CAST(case_id AS VARCHAR) AS case_id FROM cases),
c AS (SELECT req.case_id, m.subject FROM req LEFT JOIN membership m ON m.case_id = req.case_id),
st AS (SELECT * FROM state WHERE scope_dataset IN ('*', $dataset) AND effective_at <= $at),
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
         max(effective_at) FILTER (WHERE facet = 'notice_sent') AS sent,
         max(effective_at) FILTER (WHERE facet = 'notice_undelivered') AS und,
         bool_or(facet = 'deceased') AS dead
  FROM st WHERE facet <> 'choice'
  GROUP BY subject
),
decided AS (
  SELECT c.case_id, c.subject,
    CASE
      WHEN c.subject IS NULL THEN 'unknown_case'
      WHEN en.subject IS NULL OR en.enrolled_at > $at THEN 'not_enrolled'
      WHEN NOT $deceased_permits AND coalesce(nt.dead, false) THEN 'deceased'
      WHEN ch.choice IS NOT NULL THEN ch.choice
      WHEN en.category = 'A' THEN 'no_consent'
      WHEN en.category = 'B' THEN 'category_b_default'
      WHEN nt.sent IS NULL THEN 'notice_not_sent'
      WHEN $undelivered_denies AND nt.und IS NOT NULL AND nt.und >= nt.sent THEN 'notice_undelivered'
      WHEN nt.sent > $cutoff THEN 'notice_period_running'
      ELSE 'category_c_notice_period_passed'
    END AS reason
  FROM c
  LEFT JOIN enrolments en ON en.subject = c.subject
  LEFT JOIN ch ON ch.subject = c.subject
  LEFT JOIN nt ON nt.subject = c.subject
)
SELECT case_id, subject, reason, reason IN ({permits}) AS permit FROM decided
"""

# Hashing in a second pass over the decided rows measured faster than inside the join pipeline.
_PSEUDONYMS_SQL = """
SELECT case_id, subject, reason, permit, CASE WHEN permit THEN {pseudonym} END AS release_pseudonym
FROM release_decided
"""


_PERMITS = ", ".join(f"'{r}'" for r in PERMIT_REASONS)


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
    params: dict[str, object] = {
        "dataset": dataset,
        "at": format_instant(at),
        "cutoff": format_instant(at - timedelta(days=policy.notice_period_days)),
        "covering": sorted(covering),
        "deceased_permits": policy.deceased_permits,
        "undelivered_denies": policy.undelivered_notice_denies,
    }
    if scheme == PSEUDONYM_SCHEME:
        params["secret_hex"] = secret.hex()
    else:
        params["ipad"], params["opad"] = _hmac_pads(secret)
    decide_params = {k: v for k, v in params.items() if k not in ("secret_hex", "ipad", "opad")}
    hash_params = {k: v for k, v in params.items() if k in ("secret_hex", "ipad", "opad")}
    try:
        db.execute("CREATE OR REPLACE TEMP TABLE release_decided AS " + _SQL.format(permits=_PERMITS), decide_params)
        return arrow_of(db.sql(_PSEUDONYMS_SQL.format(pseudonym=_PSEUDONYM_SQL[scheme]), params=hash_params))
    finally:
        db.execute("DROP TABLE IF EXISTS release_decided")
        for name in ("cases", "membership", "enrolments", "state"):
            db.unregister(name)
        if con is None:
            db.close()
