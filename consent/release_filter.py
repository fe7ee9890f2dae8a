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


def _hmac_pads(secret: bytes) -> tuple[str, str]:
    key = secret.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


_SQL = """
WITH req AS (SELECT DISTINCT CAST(case_id AS VARCHAR) AS case_id FROM cases),
c AS (SELECT req.case_id, m.subject FROM req LEFT JOIN membership m ON m.case_id = req.case_id),
agg AS (
  -- One pass over the state, one row per subject: the winning choice (latest; broader first at a tie),
  -- the latest notice sent and returned, and whether a death is recorded.
  SELECT subject,
         arg_max(kind, (effective_at, -spec, seq)) FILTER (
           WHERE facet = 'choice' AND (scope_purpose = '*' OR list_contains($covering, scope_purpose))) AS choice,
         max(effective_at) FILTER (WHERE facet = 'notice_sent') AS sent,
         max(effective_at) FILTER (WHERE facet = 'notice_undelivered') AS und,
         bool_or(facet = 'deceased') AS dead
  FROM (SELECT *, CAST(scope_dataset <> '*' AS INTEGER) + CAST(scope_purpose <> '*' AS INTEGER) AS spec
        FROM state WHERE scope_dataset IN ('*', $dataset) AND effective_at <= $at)
  GROUP BY subject
),
sub AS (
  SELECT en.subject, en.category, en.enrolled_at, agg.choice, agg.sent, agg.und, agg.dead
  FROM enrolments en LEFT JOIN agg ON agg.subject = en.subject
),
decided AS (
  SELECT c.case_id, c.subject,
    CASE
      WHEN c.subject IS NULL THEN 'unknown_case'
      WHEN sub.subject IS NULL OR sub.enrolled_at > $at THEN 'not_enrolled'
      WHEN NOT $deceased_permits AND coalesce(sub.dead, false) THEN 'deceased'
      WHEN sub.choice IS NOT NULL THEN sub.choice
      WHEN sub.category = 'A' THEN 'no_consent'
      WHEN sub.category = 'B' THEN 'category_b_default'
      WHEN sub.sent IS NULL THEN 'notice_not_sent'
      WHEN $undelivered_denies AND sub.und IS NOT NULL AND sub.und >= sub.sent THEN 'notice_undelivered'
      WHEN sub.sent > $cutoff THEN 'notice_period_running'
      ELSE 'category_c_notice_period_passed'
    END AS reason
  FROM c LEFT JOIN sub ON sub.subject = c.subject
)
SELECT case_id, subject, reason,
       list_contains($permits, reason) AS permit,
       CASE WHEN list_contains($permits, reason) THEN substr(sha256(
         unhex($opad) || unhex(sha256(unhex($ipad) || encode(case_id)))), 1, 32) END AS release_pseudonym
FROM decided
"""


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
) -> pa.Table:
    """Decide every requested case; return case_id, subject, reason, permit, release_pseudonym.

    ``cases``: case_id. ``membership``: case_id, subject of the dataset. ``enrolments``: subject,
    category, enrolled_at of the dataset. ``state``: rows shaped like ``STATE_SCHEMA``.
    """
    db = con or duckdb.connect()
    db.register("cases", cases)
    db.register("membership", membership)
    db.register("enrolments", enrolments)
    db.register("state", state)
    ipad, opad = _hmac_pads(secret)
    params = {
        "dataset": dataset,
        "at": format_instant(at),
        "cutoff": format_instant(at - timedelta(days=policy.notice_period_days)),
        "covering": sorted(covering),
        "deceased_permits": policy.deceased_permits,
        "undelivered_denies": policy.undelivered_notice_denies,
        "permits": list(PERMIT_REASONS),
        "ipad": ipad,
        "opad": opad,
    }
    try:
        return arrow_of(db.sql(_SQL, params=params))
    finally:
        for name in ("cases", "membership", "enrolments", "state"):
            db.unregister(name)
        if con is None:
            db.close()
