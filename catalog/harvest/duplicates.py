"""Duplicate links: records of different sources with the same dct:identifier or landing page.

They are linked both ways and shown to stewards; nothing is merged, because two catalogs
may describe one dataset differently and a steward decides which description to trust.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.harvest.tables import DuplicateLinkRow, HarvestRecordRow
from schemas import Dataset


def link_duplicates(s: Session, source_id: int, saved: Sequence[tuple[str, Dataset]]) -> int:
    """Link each saved record to records of *other* sources sharing its identifier or landing page."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for guid, ds in saved:
        if ds.identifier:
            wanted.setdefault(("identifier", ds.identifier), []).append(guid)
        if ds.landing_page:
            wanted.setdefault(("landing_page", ds.landing_page), []).append(guid)
    if not wanted:
        return 0
    others = select(HarvestRecordRow.id).where(HarvestRecordRow.source_id != source_id).limit(1)
    if s.execute(others).first() is None:  # the only source so far: nothing to link to
        return 0
    pairs: set[tuple[str, str, str, str]] = set()
    for basis, column in (("identifier", HarvestRecordRow.identifier), ("landing_page", HarvestRecordRow.landing_page)):
        values = [v for (b, v) in wanted if b == basis]
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            q = select(column, HarvestRecordRow.guid).where(column.in_(chunk), HarvestRecordRow.source_id != source_id)
            for value, other in s.execute(q):
                if value is None:
                    continue
                for guid in wanted[(basis, value)]:
                    if guid != other:
                        pairs.add((guid, other, basis, value))
                        pairs.add((other, guid, basis, value))
    if not pairs:
        return 0
    guids = sorted({p[0] for p in pairs})
    existing: set[tuple[str, str, str]] = set()
    for start in range(0, len(guids), 500):
        q2 = select(DuplicateLinkRow.guid, DuplicateLinkRow.other_guid, DuplicateLinkRow.basis).where(
            DuplicateLinkRow.guid.in_(guids[start : start + 500])
        )
        existing.update((g, o, b) for g, o, b in s.execute(q2))
    now = datetime.now(UTC)
    new = [p for p in sorted(pairs) if p[:3] not in existing]
    s.add_all(DuplicateLinkRow(guid=g, other_guid=o, basis=b, value=v, created_at=now) for g, o, b, v in new)
    return len(new)
