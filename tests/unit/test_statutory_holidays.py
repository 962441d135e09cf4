"""The statutory holidays estimated for a year without an official schedule."""

from __future__ import annotations

import itertools
from datetime import date

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar
from yibao.calendar.statutory import statutory_holidays, statutory_holidays_by_name

OFFICIAL_YEARS = range(2008, 2027)  # chinesecalendar ships 2004-2026; 清明 etc. off since 2008


@pytest.mark.parametrize("year", OFFICIAL_YEARS)
def test_every_estimated_holiday_is_off_in_the_official_schedule(year: int) -> None:
    for name, days in statutory_holidays_by_name(year):
        for d in days:
            off = not chinese_calendar.is_workday(d)
            # a statutory day on a weekend may have been moved by 调休 (a make-up working day)
            assert off or d.weekday() >= 5, f"{name} {d} is a working day in {year}"


def test_2027_keeps_new_year_and_the_spring_festival_off() -> None:
    cal = WorkCalendar(())
    assert not cal.is_working_day(date(2027, 1, 1))
    for day in (5, 6, 7, 8):  # 除夕 5 February to 初三 8 February 2027
        assert not cal.is_working_day(date(2027, 2, day))
    assert cal.is_working_day(date(2027, 2, 4)) and cal.is_working_day(date(2027, 2, 9))
    names = dict(statutory_holidays_by_name(2027))
    assert names["春节"] == tuple(date(2027, 2, d) for d in (5, 6, 7, 8))
    assert names["清明节"] == (date(2027, 4, 5),)
    assert names["端午节"] == (date(2027, 6, 9),)
    assert names["中秋节"] == (date(2027, 9, 15),)


def test_new_years_eve_on_the_29th_of_the_12th_month() -> None:
    # The 12th lunar month of 2025 (乙巳) has 29 days: 除夕 is 腊月廿九, 16 February 2026.
    assert dict(statutory_holidays_by_name(2026))["春节"][0] == date(2026, 2, 16)


@given(st.integers(min_value=2025, max_value=2200))
def test_current_rules_give_thirteen_days_in_their_year(year: int) -> None:
    days = statutory_holidays(year)
    # 13 days, one fewer when 中秋 falls on 1-3 October (as in 2020 and 2126)
    assert len(days) == 13 or dict(statutory_holidays_by_name(year))["中秋节"][0].month == 10
    assert all(d.year == year for d in days)
    assert {date(year, 1, 1), date(year, 5, 1), date(year, 5, 2), date(year, 10, 3)} <= days
    spring = dict(statutory_holidays_by_name(year))["春节"]
    assert [(b - a).days for a, b in itertools.pairwise(spring)] == [1, 1, 1]
    assert date(year, 1, 21) <= spring[1] <= date(year, 2, 20)  # 正月初一
