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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Row, bindparam, text

from consent import membership, notice_lists
from consent.aes_cmac import cmac_hex_many
from consent.pseudonyms import release_pseudonym

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


_RELEASES = text("SELECT release_id, dataset, active_until FROM consent_releases WHERE release_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_SCOPES = text("SELECT release_id, scope_purpose FROM consent_release_scopes WHERE release_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def _releases(conn: Connection, ids: Sequence[str]) -> dict[str, HeldRelease]:
    rows: list[Row[Any]] = []
    scopes: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(ids), 2000):
        some = list(ids[start : start + 2000])
        rows += conn.execute(_RELEASES, {"ids": some}).all()
        for release_id, scope in conn.execute(_SCOPES, {"ids": some}):
            scopes[release_id].add(scope)
    return {
        r.release_id: HeldRelease(r.release_id, r.dataset, r.active_until, frozenset(scopes[r.release_id]))
        for r in rows
    }


_MANIFESTS = text("SELECT release_id, manifest FROM consent_releases WHERE release_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def _schemes(conn: Connection, release_ids: Sequence[str]) -> dict[str, str]:
    """Each release's pseudonym scheme, from its manifest (read only for the releases that owe something)."""
    found: dict[str, str] = {}
    for start in range(0, len(release_ids), 1000):
        for release_id, manifest in conn.execute(_MANIFESTS, {"ids": list(release_ids[start : start + 1000])}):
            data = manifest if isinstance(manifest, dict) else json.loads(manifest)
            found[str(release_id)] = str(data.get("pseudonym_scheme") or CMAC_SCHEME)
    return found


def pseudonyms(secret: bytes, scheme: str, case_ids: Sequence[str]) -> list[str]:
    """The release pseudonyms of ``case_ids`` under a release's secret and scheme (bulk for the current one)."""
    if scheme == CMAC_SCHEME and len(case_ids) > 16:
        values = pa.array(list(case_ids), pa.string())
        result: list[str] = cmac_hex_many(secret[:16], values, np.arange(len(values))).to_pylist()
        return result
    return [release_pseudonym(secret, c, scheme) for c in case_ids]


_NOTIFIED = text("SELECT release_id, pseudonyms FROM consent_withdrawal_notices WHERE release_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def _already(conn: Connection, release_ids: Sequence[str]) -> dict[str, set[str]]:
    """The pseudonyms each release's holder was already told of (few: notices are rare)."""
    found: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(release_ids), 1000):
        for release_id, packed in conn.execute(_NOTIFIED, {"ids": list(release_ids[start : start + 1000])}):
            found[str(release_id)].update(notice_lists.unpack(packed))
    return found


def owed(conn: Connection, refusals: Sequence[Refusal], secret_of: Callable[[str], bytes]) -> list[tuple[str, str]]:
    """(release id, pseudonym) pairs owed for ``refusals`` and not yet notified; ``secret_of`` gives a
    release's secret (the registry's pseudonymiser)."""
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
    releases = _releases(conn, [h.release_id for h in held])
    # The rule reads a refusal's scope and time only: refusals alike in those are decided once per release
    # (a bulk opt-out is one kind), not once per person.
    kinds: dict[tuple[str | None, str | None, str], set[str]] = defaultdict(set)
    for refusal in refusals:
        kinds[(refusal.scope_dataset, refusal.scope_purpose, refusal.recorded_at)].add(refusal.subject)
    told = _already(conn, [h.release_id for h in held])
    schemes = _schemes(conn, [h.release_id for h in held])
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
