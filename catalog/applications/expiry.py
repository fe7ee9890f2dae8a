"""The expiry job: records ``expired`` on every application whose end date has come, every ``interval``
seconds, in a daemon thread of each ``fairgate serve`` process (as the harvest scheduler does).

The status read as of any day is already right without it (``access.rules.status_as_of``); the event
makes the history say when access ended. Several workers may run it: the event store's position check
lets one of them append, the others skip that application.
"""

from __future__ import annotations

import logging

from catalog.applications.service import ApplicationService
from catalog.periodic import PeriodicJob

log = logging.getLogger("fairgate.access")


class ExpiryScheduler(PeriodicJob):
    name = "access-expiry"

    def __init__(self, service: ApplicationService, interval: float) -> None:
        super().__init__(interval)
        self.service = service

    def tick(self) -> list[str]:
        """Expire what is due now; the ids expired."""
        expired = self.service.expire_due()
        if expired:
            log.info("access expired: %s", ", ".join(expired))
        return expired
