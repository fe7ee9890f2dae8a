"""A child process for the lifeline test: watches its pipe only (no parent-death signal), then idles."""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

from catalog.worker_lifetime import die_with_parent


def run(parent: int, lifeline: Connection) -> None:
    die_with_parent(parent, lifeline, death_signal=False)
    time.sleep(600)
