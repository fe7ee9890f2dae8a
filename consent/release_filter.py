"""Set-based release filtering: one DuckDB query over Arrow tables decides every case at once.

The same rules as :func:`consent.decide.decide`, written as SQL over the materialised state (or over
the events known at an audit time); tests hold the two equal. No database of ours is touched here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

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


PSEUDONYM_SCHEME = "sha256-k128-128"
"""Per-release case pseudonym: the first 32 hex digits of SHA-256(hex(first 16 bytes of the release secret) || case id).

The release secret is HMAC-SHA256(registry key, "release:" + release id), so it is unique to the release
and never stored: two releases' pseudonyms cannot be joined without the registry key, and a release is
reproduced exactly for an audit. A secret prefix is a sound PRF here because the output is truncated to
128 bits (no length extension). The key is 128 bits (32 hex digits) so that key and a case id of up to
23 bytes fill one SHA-256 block: one compression per case instead of two, which halved the hashing time.
Earlier releases record ``sha256-prefix-128`` (the whole 32-byte secret as 64 hex digits, two blocks) or
``hmac-sha256-128`` (HMAC-SHA256(secret, case id)); both are still reproduced for audits."""

PREFIX_SCHEME = "sha256-prefix-128"
LEGACY_PSEUDONYM_SCHEME = "hmac-sha256-128"


def _hmac_pads(secret: bytes) -> tuple[str, str]:
    key = secret.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def _pseudonym_params(scheme: str, secret: bytes) -> dict[str, object]:
    if scheme == PSEUDONYM_SCHEME:
        return {"secret_hex": secret[:16].hex()}
    if scheme == PREFIX_SCHEME:
        return {"secret_hex": secret.hex()}
    ipad, opad = _hmac_pads(secret)
    return {"ipad": ipad, "opad": opad}


_PSEUDONYM_SQL = {
    PSEUDONYM_SCHEME: "substr(sha256($secret_hex || case_id), 1, 32)",
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
        if decided.num_rows < cases.num_rows:  # some ids are repeated or unknown: report the unknown ones
            unknown = arrow_of(db.sql(_UNKNOWN_SQL.format(reasons=_REASON_TYPE))).cast(decided.schema)
            decided = pa.concat_tables([decided, unknown])
        return decided
    finally:
        for name in ("cases", "membership", "enrolments", "state"):
            db.unregister(name)
        if con is None:
            db.close()
