"""What refusals owe the holders of past releases: the released pseudonyms of the refusing people's cases.

A refusal owes a release each case of the refusing person that the release holds (its bitmap,
:mod:`consent.membership`) when the release was still active at the refusal's recording, the refusal's
dataset scope is all datasets or the release's, its purpose scope is all purposes or one the release
covers, and the holder was not told of that pseudonym already. ``owed_rule`` is that rule as a plain
function; :func:`owed` applies it set by set and recomputes the pseudonyms with each release's secret.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection

from consent import membership, notice_lists
from consent.aes_cmac import cmac_hex_many
from consent.database import fetch_in
from consent.pseudonyms import release_pseudonym
from schemas.consent import REFUSALS

CMAC_SCHEME = "aes128-cmac-128"


@dataclass(frozen=True)
class Refusal:
    """The parts of a refusal event the rule reads."""

    subject: str
    scope_dataset: str | None
    scope_purpose: str | None
    recorded_at: str  # format_instant text


@dataclass(frozen=True)
class HeldRelease:
    """The parts of a release the rule reads."""

    release_id: str
    dataset: str
    active_until: str
    scopes: frozenset[str]


def owed_rule(refusal: Refusal, release: HeldRelease) -> bool:
    """Whether ``refusal`` reaches a case of its subject that ``release`` holds (notified or not)."""
    return (
        release.active_until >= refusal.recorded_at
        and (refusal.scope_dataset is None or refusal.scope_dataset == release.dataset)
        and (refusal.scope_purpose is None or refusal.scope_purpose in release.scopes)
    )


# Read through the driver (database.fetch_in): a batch of 64 opt-outs holds some 500 releases, and an
# expanding IN of that many values cost psycopg more to convert than the database to answer.
_RELEASES = "SELECT release_id, dataset, active_until, manifest FROM consent_releases WHERE release_id {in}"
_SCOPES = "SELECT release_id, scope_purpose FROM consent_release_scopes WHERE release_id {in}"


def _releases(conn: Connection, ids: Sequence[str]) -> tuple[dict[str, HeldRelease], dict[str, str]]:
    """The releases of ``ids`` as the rule reads them, and each one's pseudonym scheme (from its manifest)."""
    scopes: dict[str, set[str]] = defaultdict(set)
    for release_id, scope in fetch_in(conn, _SCOPES, (), ids, "text[]"):
        scopes[str(release_id)].add(str(scope))
    held: dict[str, HeldRelease] = {}
    schemes: dict[str, str] = {}
    for release_id, dataset, until, manifest in fetch_in(conn, _RELEASES, (), ids, "text[]"):
        key = str(release_id)
        held[key] = HeldRelease(key, str(dataset), str(until), frozenset(scopes[key]))
        data = manifest if isinstance(manifest, dict) else json.loads(manifest)
        schemes[key] = str(data.get("pseudonym_scheme") or CMAC_SCHEME)
    return held, schemes


def pseudonyms(secret: bytes, scheme: str, case_ids: Sequence[str]) -> list[str]:
    """The release pseudonyms of ``case_ids`` under a release's secret and scheme (bulk for the current one)."""
    if scheme == CMAC_SCHEME and len(case_ids) > 16:
        values = pa.array(list(case_ids), pa.string())
        result: list[str] = cmac_hex_many(secret[:16], values, np.arange(len(values))).to_pylist()
        return result
    return [release_pseudonym(secret, c, scheme) for c in case_ids]


_NOTIFIED = "SELECT release_id, pseudonyms FROM consent_withdrawal_notices WHERE created_at >= {p} AND release_id {in}"

# The subjects' few events through the subject index, then the kind test (OFFSET 0 keeps it out of the scan:
# with it, PostgreSQL also read the kind index, every stored opt-out per batch; see report_counts.PG_TALLY).
# (SQLite's planner has no such fence, nor needs it: it probes the subject index.)
_FIRST_REFUSAL = (
    "SELECT min(recorded_at) FROM (SELECT kind, recorded_at FROM consent_events WHERE subject {{in}}{fence}) e "
    "WHERE kind IN ({kinds})"
)
_REFUSAL_KINDS = ", ".join(f"'{k.value}'" for k in sorted(REFUSALS))


def _first_refusal(conn: Connection, refusals: Sequence[Refusal], never_refused: Set[str]) -> str:
    """When the earliest refusal of the refusing people was recorded: the ledger's (these refusals are
    stored before they are propagated) or, if earlier, the refusals' own. Subjects in ``never_refused``
    have no other refusal and are not looked up."""
    fence = " OFFSET 0" if conn.dialect.name == "postgresql" else ""
    sql = _FIRST_REFUSAL.format(fence=fence, kinds=_REFUSAL_KINDS)
    others = sorted({r.subject for r in refusals} - never_refused)
    stored = fetch_in(conn, sql, (), others, "text[]") if others else []
    times = [str(at) for (at,) in stored if at is not None]
    return min([*times, *(r.recorded_at for r in refusals)])


def _already(conn: Connection, release_ids: Sequence[str], since: str) -> dict[str, set[str]]:
    """The pseudonyms each release's holder was already told of since ``since``.

    A notice names a person's pseudonym only once that person has refused, and is filed no earlier than
    the refusal's recording: notices older than the refusing people's first refusal cannot name them.
    Reading every notice of the releases instead made batched opt-outs quadratic (the 157th batch of 64
    unpacked the 75,000 notices of those before it: 33 of the 49 s of 10,000 opt-outs on PostgreSQL)."""
    found: dict[str, set[str]] = defaultdict(set)
    for release_id, packed in fetch_in(conn, _NOTIFIED, (since,), release_ids, "text[]"):
        found[str(release_id)].update(notice_lists.unpack(bytes(packed)))
    return found


def owed(
    conn: Connection,
    refusals: Sequence[Refusal],
    secret_of: Callable[[str], bytes],
    never_refused: Set[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(release id, pseudonym) pairs owed for ``refusals`` and not yet notified; ``secret_of`` gives a
    release's secret (the registry's pseudonymiser); ``never_refused``: subjects the caller knows had no
    stored refusal before these (a chain that began with this batch)."""
    if not refusals:
        return []
    cases = membership.cases_of(conn, sorted({r.subject for r in refusals}))
    if not cases:
        return []
    since = min(r.recorded_at for r in refusals)
    # The releases holding those cases (active at the first refusal), found through the cases themselves:
    # one opt-out against 1,000 active releases reads the few that hold its person.
    held = membership.held_by_release(conn, cases, active_since=since)
    if not held:
        return []
    releases, schemes = _releases(conn, [h.release_id for h in held])
    # The rule reads a refusal's scope and time only: refusals alike in those are decided once per release
    # (a bulk opt-out is one kind), not once per person.
    kinds: dict[tuple[str | None, str | None, str], set[str]] = defaultdict(set)
    for refusal in refusals:
        kinds[(refusal.scope_dataset, refusal.scope_purpose, refusal.recorded_at)].add(refusal.subject)
    told = _already(conn, [h.release_id for h in held], _first_refusal(conn, refusals, never_refused))
    pairs: list[tuple[str, str]] = []
    for h in held:
        release = releases[h.release_id]
        owing = [subjects for (d, p, at), subjects in kinds.items() if owed_rule(Refusal("", d, p, at), release)]
        if not owing:
            continue
        if len(owing) == len(kinds):
            ids = h.case_ids
        else:
            reached = set().union(*owing)
            ids = [c for c, s in zip(h.case_ids, h.subjects, strict=True) if s in reached]
        ids = sorted(set(ids))
        done = told.get(h.release_id, set())
        names = pseudonyms(secret_of(h.release_id), schemes.get(h.release_id, CMAC_SCHEME), ids)
        pairs.extend((h.release_id, p) for p in names if p not in done)
    return pairs
