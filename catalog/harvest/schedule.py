"""When a scheduled harvest source is due: a plain rule over its schedule, its last run and the clock.

Schedules are written as people say them: ``daily 02:00`` (UTC), ``hourly`` or ``every 30 minutes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_DAILY = re.compile(r"daily\s+([01]?\d|2[0-3]):([0-5]\d)")
_EVERY = re.compile(r"every\s+(\d{1,4})\s+minutes?")


@dataclass(frozen=True)
class Schedule:
    text: str
    at: time | None = None  # daily at this UTC time
    every: timedelta | None = None  # or every this long


def parse_schedule(text: str) -> Schedule:
    """The schedule ``text`` names; ValueError saying what to write instead."""
    t = " ".join(text.strip().lower().split())
    if (m := _DAILY.fullmatch(t)) is not None:
        return Schedule(f"daily {int(m[1]):02d}:{m[2]}", at=time(int(m[1]), int(m[2])))
    if t == "hourly":
        return Schedule("hourly", every=timedelta(hours=1))
    if (m := _EVERY.fullmatch(t)) is not None and 5 <= int(m[1]) <= 10080:
        return Schedule(f"every {int(m[1])} minutes", every=timedelta(minutes=int(m[1])))
    raise ValueError(
        f"schedule {text!r} is not understood; write 'daily 02:00' (UTC), 'hourly' or 'every 30 minutes' "
        "(5 to 10080 minutes)"
    )


def last_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The latest moment at or before ``now`` when a daily schedule should have started (None otherwise)."""
    if schedule.at is None:
        return None
    today = datetime.combine(now.date(), schedule.at, now.tzinfo)
    return today if today <= now else today - timedelta(days=1)


def is_due(schedule: Schedule, last_started: datetime | None, created: datetime, now: datetime) -> bool:
    """Whether a run should start now: an interval schedule when it has never run or its interval has
    passed; a daily one when its latest slot came after the last run (or after the source was made)."""
    if schedule.every is not None:
        return last_started is None or now - last_started >= schedule.every
    since = last_started or created
    slot = last_slot(schedule, now)
    return slot is not None and slot > since
