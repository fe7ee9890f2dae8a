"""A CKAN source with faults all at once: 10% malformed packages, a 500 on one page and a timeout on another.
Every good record is harvested, every bad one is reported with where and why, the failed pages are retried
(with backoff), and nothing that only failed to arrive is tombstoned."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog.harvest import HarvestService
from catalog.store import Store
from tests.harvest.servers import CkanServer, serve

ROWS = 20
RETRYING = {"attempts": 3, "backoff": 0.05, "rows": ROWS, "timeout": 0.5}


def _starts(ckan: CkanServer) -> list[int]:
    return [int(r.get("start", 0)) for r in ckan.requests]


def test_a_faulty_ckan_source_harvests_every_good_record_and_tombstones_nothing_that_failed_to_arrive(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = copy.deepcopy(depositar[:60])
    ckan = CkanServer(packages, delay=1.5)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="faulty", options=RETRYING)
        first = service.run("faulty")
        assert (first.status, first.added, first.failed) == ("succeeded", 60, 0)
        before = {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()}

        later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        malformed = {packages[i]["id"] for i in range(0, 60, 10)}  # 10%, spread over every page
        for i, pkg in enumerate(packages):
            if pkg["id"] in malformed:
                pkg["title"] = "" if i % 20 else "   "
                pkg.pop("title_translated", None)
                pkg["metadata_modified"] = later
        ckan.requests.clear()
        ckan.fail_once_starts.add(ROWS)  # the second page answers 500 once
        ckan.slow_once_starts.add(2 * ROWS)  # the third page times out once
        run = service.run("faulty")

    assert run.status == "succeeded", run.reason
    assert (run.failed, run.withdrawn, run.unchanged + run.updated) == (len(malformed), 0, 60 - len(malformed))
    assert _starts(ckan).count(ROWS) == 2 and _starts(ckan).count(2 * ROWS) == 2  # each failed page retried once
    errors = {e.upstream_id: e for e in service.errors(name="faulty")}
    assert set(errors) == malformed
    assert all(e.stage == "validate" and "title" in e.reason for e in errors.values())
    after = {u: store.get(g) for u, g in store.guids_of_source(info.guid).items()}
    assert not [u for u, s in after.items() if s.is_tombstone]
    assert {u: after[u].revision for u in malformed} == {u: before[u] for u in malformed}  # kept as they were
