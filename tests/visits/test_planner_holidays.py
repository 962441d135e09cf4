"""The planner and a year without an official schedule: no visit on a statutory holiday, and
every proposal touching that year says it is estimated."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.visits import planner
from yibao.visits.planner import PlanRequest, Team

TEAM = Team("M01", (("500118100", "青峰村"), ("500118100", "石笋村"), ("500118100", "龙凤村")), 2)


def _calendar() -> WorkCalendar:
    """The node's calendar before next year's schedule is imported: 2026 official only."""
    return WorkCalendar(schedules_from_chinesecalendar([2026]))


def _proposed_days(start: date, end: date, interval: int = 3) -> set[date]:
    request = PlanRequest(start=start, end=end, teams=(TEAM,), interval=interval)
    return {v.day for v in planner.propose(request, _calendar()).visits}


@given(
    start=st.dates(date(2026, 12, 1), date(2027, 1, 31)),
    length=st.integers(1, planner.MAX_PERIOD_DAYS),
    interval=st.integers(1, 30),
)
@settings(max_examples=40, deadline=None)
def test_every_proposed_day_is_a_working_day_of_the_calendar(
    start: date, length: int, interval: int
) -> None:
    cal = _calendar()
    end = start + timedelta(days=length - 1)
    request = PlanRequest(start=start, end=end, teams=(TEAM,), interval=interval)
    proposal = planner.propose(request, cal)
    assert all(cal.is_working_day(v.day) for v in proposal.visits)
    assert proposal.estimated == (end.year >= 2027)


@pytest.mark.xfail(
    WorkCalendar().is_working_day(date(2027, 1, 1)),
    strict=True,
    reason="WorkCalendar does not yet estimate the statutory holidays of a year without an "
    "official schedule (the calendar engineer's part of issue 10): 2027-01-01 counts as a "
    "working Friday",
)
def test_the_planner_never_proposes_new_year_s_day_of_an_unpublished_year() -> None:
    # A tight interval: the planner would use every working day of late Dec - early Jan.
    days = _proposed_days(date(2026, 12, 21), date(2027, 1, 15), interval=2)
    assert date(2026, 12, 31) in days  # a working Thursday: the planner does use such days
    assert date(2027, 1, 1) not in days  # 元旦, a statutory holiday even before the schedule
