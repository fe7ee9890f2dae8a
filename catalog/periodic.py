"""A job that runs every ``interval`` seconds in a daemon thread of each serve process: the base of the
harvest scheduler and the access expiry job. A failed round is logged and the next round tries again."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("fairgate")


class PeriodicJob:
    name = "periodic-job"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Any:  # pragma: no cover - each job says what a round does
        raise NotImplementedError

    def stopping(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the job
                log.exception("%s: round failed", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
