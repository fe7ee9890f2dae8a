"""Scheduled harvests: the schedule rule over plain values, and the scheduler running a real source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.harvest import HarvestService
from catalog.harvest.background import Scheduler, due_sources
from catalog.harvest.schedule import is_due, parse_schedule
from catalog.store import Store, StoreError

T = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def test_schedules_are_written_as_people_say_them_and_refused_with_what_to_write() -> None:
    assert parse_schedule("Daily  2:00").text == "daily 02:00"
    assert parse_schedule("hourly").every == timedelta(hours=1)
    assert parse_schedule("every 30 minutes").every == timedelta(minutes=30)
    for bad in ("daily 25:00", "every 2 minutes", "sometimes", ""):
        with pytest.raises(ValueError, match="daily 02:00"):
            parse_schedule(bad)


def test_a_daily_schedule_is_due_once_its_time_has_passed_since_the_last_run() -> None:
    daily = parse_schedule("daily 02:00")
    yesterday_run = T - timedelta(hours=23)  # 02:30 yesterday
    assert not is_due(daily, yesterday_run, T - timedelta(days=30), T)  # 01:30: today's slot not yet
    assert is_due(daily, yesterday_run, T - timedelta(days=30), T + timedelta(minutes=31))  # 02:01
    assert not is_due(daily, T + timedelta(minutes=31), T - timedelta(days=30), T + timedelta(minutes=40))


def test_a_daily_schedule_waits_for_its_first_slot_after_the_source_was_made() -> None:
    daily = parse_schedule("daily 02:00")
    assert not is_due(daily, None, T, T + timedelta(minutes=10))
    assert is_due(daily, None, T, T + timedelta(minutes=31))


def test_an_interval_schedule_runs_at_once_and_then_each_interval() -> None:
    every = parse_schedule("every 30 minutes")
    assert is_due(every, None, T, T)
    assert not is_due(every, T, T, T + timedelta(minutes=29))
    assert is_due(every, T, T, T + timedelta(minutes=30))


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "descriptions"
    folder.mkdir()
    (folder / "good.csv").write_text("id,title_zh,title_en\nknee-mr,膝關節磁振造影,Knee MRI\n", encoding="utf-8")
    return folder


def test_the_scheduler_runs_a_due_source_once_and_not_an_unscheduled_one(store: Store, tmp_path: Path) -> None:
    service = HarvestService(store)
    service.add_source("local", str(_folder(tmp_path)), name="scheduled")
    other = tmp_path / "other"
    other.mkdir()
    service.add_source("local", str(_folder(other)), name="manual")
    with pytest.raises(StoreError, match="every 30 minutes"):
        service.set_schedule("scheduled", "at teatime")
    service.set_schedule("scheduled", "every 30 minutes")
    now = datetime.now(UTC)
    clock = [now]
    scheduler = Scheduler(service, interval=3600, clock=lambda: clock[0])
    assert scheduler.tick() == ["scheduled"]
    assert [r.status for r in service.runs("scheduled")] == ["succeeded"]
    assert service.runs("manual") == []
    clock[0] = now + timedelta(minutes=10)
    assert scheduler.tick() == []  # not due again yet
    clock[0] = now + timedelta(minutes=31)
    assert due_sources(service, clock[0]) == ["scheduled"]
    service.set_schedule("scheduled", "")
    assert due_sources(service, clock[0]) == []
