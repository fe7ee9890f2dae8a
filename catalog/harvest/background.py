"""Harvest work outside the request: runs a steward starts from a page, and scheduled runs.

No extra server: a daemon thread in each ``fairgate serve`` process. Several workers or machines may
all run the scheduler: the harvest lock (one row per source, taken in a transaction, heartbeated while
a run writes) lets one run per source start, and the others see ``SourceBusy`` and skip; a run whose
process died is marked failed when its lock goes stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from catalog.harvest.schedule import is_due, parse_schedule
from catalog.harvest.service import HarvestService, SourceBusy
from catalog.periodic import PeriodicJob

log = logging.getLogger("fairgate.harvest")


def start_run(service: HarvestService, name: str, *, full: bool = True, wait: float = 10.0) -> threading.Thread:
    """Start one run of ``name`` in a thread of its own; return once it is recorded as running (or has
    ended, or ``wait`` seconds passed), so the page the steward is sent to already shows it running."""
    started = threading.Event()

    def work() -> None:
        try:
            service.run(name, full=full, on_started=started.set)
        except SourceBusy:
            log.info("harvest %s: already running elsewhere", name)
        except Exception:  # the run itself recorded its failure; nothing may escape a thread silently
            log.exception("harvest %s failed", name)

    thread = threading.Thread(target=work, name=f"harvest-{name}", daemon=True)
    thread.start()
    # Either the lock is taken (the run shows as running) or the thread ended (busy, or failed early).
    deadline = time.monotonic() + wait
    while thread.is_alive() and not started.wait(0.05) and time.monotonic() < deadline:
        pass
    return thread


def due_sources(service: HarvestService, now: datetime) -> list[str]:
    """Names of the sources whose schedule says a run should start now (and that are not running)."""
    due = []
    for info in service.sources():
        text = info.options.get("schedule")
        if not text or info.running:
            continue
        try:
            schedule = parse_schedule(str(text))
        except ValueError:
            continue  # refused when set; a hand-edited row is skipped, not fatal
        last = info.last_run.started_at if info.last_run else None
        if is_due(schedule, last, info.created_at, now):
            due.append(info.name)
    return due


class Scheduler(PeriodicJob):
    """Every ``interval`` seconds, run each due source (one after another, in this thread)."""

    name = "harvest-scheduler"

    def __init__(self, service: HarvestService, interval: float, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(interval)
        self.service = service
        self.clock = clock or (lambda: datetime.now(UTC))

    def tick(self) -> list[str]:
        """Run what is due now; the names that ran."""
        ran = []
        for name in due_sources(self.service, self.clock()):
            if self.stopping():
                break
            try:
                self.service.run(name, full=True)
                ran.append(name)
            except SourceBusy:
                pass  # another worker or machine took it
            except Exception:
                log.exception("scheduled harvest %s failed", name)
        return ran
