"""Table 7's counts kept as events are appended: distinct subjects per (institution, kind), and overall per kind.

The report used to count distinct subjects over the whole ledger on every read (about 25 million notices at
national size); instead each append adds the subjects for whom one of its events is the first of its kind
at its institution (and the first of its kind at all, for the overall row). "First" is decided against the
subject's stored events, which no other writer can change meanwhile: every append holds the row lock of the
chain head of each of its subjects until commit (SQLite: the database's write lock). This module holds the
rule (:func:`increments`, a plain function) and its two forms in SQL: the PostgreSQL append's part of the
one write statement (:data:`PG_TALLY`) and the fill from an existing ledger (:data:`FILL`). Never logs a
value: the rows it reads hold pseudonyms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from schemas.consent import EventKind

REPORTED = (EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED, EventKind.OPTED_OUT, EventKind.DECEASED)
"""The kinds Table 7 counts."""

_KINDS = ", ".join(f"'{k.value}'" for k in REPORTED)

NONE = ""
"""The ``institution`` of counts of events filed under none (the report shows "(none)"; a key cannot be NULL)."""

SLOTS = 16
"""PostgreSQL writers add to the row of their slot (backend pid modulo this), the report sums the slots: one
row per count would make every concurrent append of a notice wait for the previous one's commit."""

Key = tuple[bool, str, str]
"""(overall, institution or NONE, kind): one count row; overall rows have institution NONE."""


def increments(
    stored: Iterable[tuple[str, str, str | None]], new: Iterable[tuple[str, str, str | None]]
) -> Counter[Key]:
    """What the new events (subject, kind, institution) add to the counts, given the same subjects' stored
    events: one per subject for each (institution, kind) and each kind it has no event of yet."""
    seen = {(s, k, i or NONE) for s, k, i in stored}
    seen_overall = {(s, k) for s, k, _ in seen}
    kinds = {k.value for k in REPORTED}
    added: Counter[Key] = Counter()
    for subject, kind, institution in new:
        if kind not in kinds:
            continue
        at = institution or NONE
        if (subject, kind, at) not in seen:
            seen.add((subject, kind, at))
            added[(False, at, kind)] += 1
        if (subject, kind) not in seen_overall:
            seen_overall.add((subject, kind))
            added[(True, NONE, kind)] += 1
    return added


# The batch's events are the write statement's ``%(events)s``; the ledger as this statement sees it holds
# none of them (every part of one statement reads the snapshot taken before it), so repeats within the
# batch are folded by DISTINCT and repeats of stored events by NOT EXISTS. Each NOT EXISTS reads the
# subject's few events through the subject index and filters them: the OFFSET 0 fence keeps the kind test
# out of the scan. Left to the planner, the probe also took the (kind, institution) index, whose every
# entry of a kind is read per probe: 10,000 opt-outs appended after 10,000 others cost 22 s, not 2 s.
# Rows are added in key order so two writers that share a slot lock its rows in one order.
PG_TALLY = f"""
reported AS (
    SELECT DISTINCT v.subject, v.kind, coalesce(v.institution, '{NONE}') AS institution
    FROM json_to_recordset(%(events)s::json) AS v(subject text, kind text, institution text)
    WHERE v.kind IN ({_KINDS})
),
tally AS (
    INSERT INTO consent_report_counts (slot, overall, institution, kind, subjects)
    SELECT mod(pg_backend_pid(), {SLOTS}), n.overall, n.institution, n.kind, count(*)
    FROM (
        SELECT false AS overall, r.institution, r.kind FROM reported r
        WHERE NOT EXISTS (
            SELECT 1 FROM (SELECT kind, institution FROM consent_events WHERE subject = r.subject OFFSET 0) e
            WHERE e.kind = r.kind AND coalesce(e.institution, '{NONE}') = r.institution)
        UNION ALL
        SELECT true, '{NONE}', r.kind FROM (SELECT DISTINCT subject, kind FROM reported) r
        WHERE NOT EXISTS (
            SELECT 1 FROM (SELECT kind FROM consent_events WHERE subject = r.subject OFFSET 0) e WHERE e.kind = r.kind)
    ) n
    GROUP BY n.overall, n.institution, n.kind
    ORDER BY n.overall, n.institution, n.kind
    ON CONFLICT (slot, overall, institution, kind) DO UPDATE
    SET subjects = consent_report_counts.subjects + EXCLUDED.subjects
)"""

FILL = f"""
INSERT INTO consent_report_counts (slot, overall, institution, kind, subjects)
SELECT 0, FALSE, coalesce(institution, '{NONE}'), kind, count(DISTINCT subject) FROM consent_events
WHERE kind IN ({_KINDS}) GROUP BY coalesce(institution, '{NONE}'), kind
UNION ALL
SELECT 0, TRUE, '{NONE}', kind, count(DISTINCT subject) FROM consent_events
WHERE kind IN ({_KINDS}) GROUP BY kind
"""
"""The counts of a ledger as it stands (the migration that made the table, and bulk-loaded benches)."""
