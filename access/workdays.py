"""Dates the rules count in: calendar months and working days (weekdays minus Taiwan's public holidays).

The holidays are data (``holidays_tw.json``), never weekdays alone; a date outside the years the file
covers is refused rather than guessed.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources


class CalendarGap(ValueError):
    """A working-day count reached a year the holiday calendar does not cover."""


@dataclass(frozen=True)
class HolidayCalendar:
    years: frozenset[int]
    holidays: dict[date, str]
    working_saturdays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        if day.year not in self.years:
            raise CalendarGap(
                f"the holiday calendar covers {min(self.years)}-{max(self.years)}, not {day.year}: add that "
                "year's public holidays to access/holidays_tw.json"
            )
        if day in self.working_saturdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The day ``days`` working days after ``start`` (``start`` itself not counted)."""
        day = start
        left = days
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day


@cache
def taiwan() -> HolidayCalendar:
    data = json.loads((resources.files("access") / "holidays_tw.json").read_text(encoding="utf-8"))
    return HolidayCalendar(
        years=frozenset(int(y) for y in data["years"]),
        holidays={date.fromisoformat(k): v for k, v in data["holidays"].items()},
        working_saturdays=frozenset(date.fromisoformat(k) for k in data["working_saturdays"]),
    )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28 or 29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
