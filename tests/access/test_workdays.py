from datetime import date

import pytest

from access.workdays import CalendarGap, add_months, taiwan


def test_seven_working_days_skip_weekends() -> None:
    # Monday 2026-03-02 + 7 working days = Wednesday 2026-03-11.
    assert taiwan().add_working_days(date(2026, 3, 2), 7) == date(2026, 3, 11)


def test_seven_working_days_skip_lunar_new_year() -> None:
    # Returned Fri 2026-02-13: 16-20 Feb are holidays, so the days are 23-27 Feb (27th is a holiday) and 2-4 Mar.
    assert taiwan().add_working_days(date(2026, 2, 13), 7) == date(2026, 3, 4)


def test_a_year_outside_the_calendar_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarGap, match="add that year's public holidays"):
        taiwan().add_working_days(date(2027, 12, 28), 7)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
