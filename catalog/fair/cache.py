"""The catalog-wide FAIR report, kept current instead of re-scored on every request.

Each process keeps a :class:`~catalog.fair.assess.ReportTally` of every published record and the
store's change mark it reflects. A request that finds the mark unchanged gets the last report; when
it moved, only the datasets with newer revision rows are read and scored again. The mark lives in
the database, so every worker (and machine) sees another's writes. It must not write anything.
"""

from __future__ import annotations

import threading
from typing import Any

from catalog.fair.assess import RecordSummary, ReportTally, assess
from catalog.store import Store


class FairReportCache:
    """The report of one store, refreshed from its change mark."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._tally: ReportTally | None = None
        self._mark: tuple[int, int] = (-1, -1)
        self._report: dict[str, Any] | None = None
        #: How many records were scored since this cache was made (read by the tests and the bench).
        self.scored = 0

    def report(self) -> dict[str, Any]:
        with self._lock:
            mark = self._store.change_mark()
            if self._report is not None and mark == self._mark:
                return self._report
            if self._tally is None:
                self._rebuild(mark)
            else:
                self._catch_up(mark)
            assert self._tally is not None
            self._report = self._tally.report()
            return self._report

    def _rebuild(self, mark: tuple[int, int]) -> None:
        tally = ReportTally()
        for stored in self._store.iter_all():
            tally.add(RecordSummary.of(assess(stored.dataset, stored.guid)))
            self.scored += 1
        self._tally, self._mark = tally, mark

    def _catch_up(self, mark: tuple[int, int]) -> None:
        assert self._tally is not None
        seen_top, seen_rows = self._mark
        changed, new_rows = self._store.changed_since(seen_top)
        # A revision committed after a higher id was seen (concurrent writers on PostgreSQL) has a
        # lower id than the mark: the counts then disagree, and only a full rescore is safe.
        if seen_rows + new_rows != mark[1]:
            self._rebuild(self._store.change_mark())
            return
        found = {s.guid: s for s in self._store.get_many(sorted(changed))}
        for guid in changed:
            stored = found.get(guid)
            if stored is None or stored.status != "active":
                self._tally.discard(guid)
            else:
                self._tally.add(RecordSummary.of(assess(stored.dataset, stored.guid)))
                self.scored += 1
        # Revisions written between reading the mark and the rows are caught next time: the mark
        # kept is the one read before them.
        self._mark = mark


def fair_cache_of(store: Store, extensions: dict[str, Any]) -> FairReportCache:
    cache = extensions.get("fair_report")
    if not isinstance(cache, FairReportCache):
        cache = extensions["fair_report"] = FairReportCache(store)
    return cache
