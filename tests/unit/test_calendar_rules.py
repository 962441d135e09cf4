"""Tests of the pure working-day calendar (yibao.calendar.rules)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from functools import cache

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.calendar.rules import (
    CountResult,
    DayResult,
    WorkCalendar,
    YearSchedule,
    recount,
    schedules_from_chinesecalendar,
)
from yibao.calendar.statutory import statutory_holidays

D = date
CC_FIRST, CC_LAST = 2004, 2026


@cache
def _cal() -> WorkCalendar:
    return WorkCalendar(schedules_from_chinesecalendar())


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return _cal()


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- naive reference, independent of WorkCalendar ------------------------------------------


def ref_is_working(d: date) -> bool:
    if CC_FIRST <= d.year <= CC_LAST:
        return bool(chinese_calendar.is_workday(d))
    return d.weekday() < 5 and d not in statutory_holidays(d.year)


def ref_estimated(y1: int, y2: int) -> bool:
    return any(not CC_FIRST <= y <= CC_LAST for y in range(min(y1, y2), max(y1, y2) + 1))


def ref_add(start: date, n: int) -> date:
    d = start
    if n == 0:
        while not ref_is_working(d):
            d += timedelta(days=1)
        return d
    step = timedelta(days=1 if n > 0 else -1)
    left = abs(n)
    while left:
        d += step
        if ref_is_working(d):
            left -= 1
    return d


def ref_between(a: date, b: date) -> int:
    lo, hi, sign = (a, b, 1) if b >= a else (b, a, -1)
    return sign * sum(ref_is_working(lo + timedelta(days=i)) for i in range(1, (hi - lo).days + 1))


# --- YearSchedule --------------------------------------------------------------------------


def test_schedule_rejects_dates_outside_its_year() -> None:
    with pytest.raises(ValueError, match="2027-01-01"):
        YearSchedule(2026, frozenset({D(2027, 1, 1)}), frozenset())
    with pytest.raises(ValueError, match="2025-12-28"):
        YearSchedule(2026, frozenset(), frozenset({D(2025, 12, 28)}))


def test_schedule_rejects_a_day_that_is_both_off_and_on() -> None:
    with pytest.raises(ValueError, match="both"):
        YearSchedule(2026, frozenset({D(2026, 2, 14)}), frozenset({D(2026, 2, 14)}))


def test_schedule_rejects_datetimes_and_freezes_sets() -> None:
    with pytest.raises(TypeError):
        YearSchedule(2026, frozenset({datetime(2026, 1, 1, 0, 0)}), frozenset())
    s = YearSchedule(2026, {D(2026, 1, 1)}, set())  # type: ignore[arg-type]
    assert isinstance(s.holidays, frozenset)
    assert hash(s)


# --- 2026, the official State Council schedule ---------------------------------------------

HOLIDAY_RANGES_2026 = [
    (D(2026, 1, 1), D(2026, 1, 3)),
    (D(2026, 2, 15), D(2026, 2, 23)),
    (D(2026, 4, 4), D(2026, 4, 6)),
    (D(2026, 5, 1), D(2026, 5, 5)),
    (D(2026, 6, 19), D(2026, 6, 21)),
    (D(2026, 9, 25), D(2026, 9, 27)),
    (D(2026, 10, 1), D(2026, 10, 7)),
]
MAKEUP_2026 = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20)]
MAKEUP_2026.append(D(2026, 10, 10))


def test_2026_has_248_working_days(cal: WorkCalendar) -> None:
    assert sum(cal.is_working_day(d) for d in _days(D(2026, 1, 1), D(2026, 12, 31))) == 248
    assert cal.working_days_between(D(2025, 12, 31), D(2026, 12, 31)) == CountResult(248, False)


@pytest.mark.parametrize("d", MAKEUP_2026, ids=str)
def test_2026_makeup_days_are_weekend_working_days(cal: WorkCalendar, d: date) -> None:
    assert d.weekday() >= 5
    assert cal.is_working_day(d)


@pytest.mark.parametrize(("first", "last"), HOLIDAY_RANGES_2026, ids=str)
def test_2026_holiday_ranges_are_off(cal: WorkCalendar, first: date, last: date) -> None:
    assert not any(cal.is_working_day(d) for d in _days(first, last))
    # every 2026 holiday is bounded by working days (make-up days included)
    assert cal.is_working_day(first - timedelta(days=1))
    assert cal.is_working_day(last + timedelta(days=1))


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # 10/1-10/7 off; Thu 10/8 is the first working day (DESIGN's brief said 10/9, but
        # 10/8 is a Thursday outside the holiday; chinesecalendar agrees)
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        (D(2026, 9, 30), 2, D(2026, 10, 9)),
        (D(2026, 2, 13), 1, D(2026, 2, 14)),  # make-up Saturday counts
        (D(2026, 2, 14), 1, D(2026, 2, 24)),  # Spring Festival 2/15-2/23 off
        (D(2026, 10, 9), 1, D(2026, 10, 10)),  # make-up Saturday counts
        (D(2026, 10, 10), 1, D(2026, 10, 12)),
        (D(2026, 12, 31), 0, D(2026, 12, 31)),
        (D(2026, 1, 1), 0, D(2026, 1, 4)),  # 0 = same day if working, else next working day
        (D(2026, 10, 8), -1, D(2026, 9, 30)),
        (D(2026, 10, 9), -2, D(2026, 9, 30)),
        (D(2026, 2, 24), -1, D(2026, 2, 14)),
        (D(2026, 4, 30), 4, D(2026, 5, 9)),  # 5/1-5/5 off; 5/6, 5/7, 5/8, Sat 5/9
        (D(2026, 4, 30), 5, D(2026, 5, 11)),
        (D(2026, 1, 5), 20, D(2026, 2, 2)),
    ],
)
def test_hand_checked_due_dates(cal: WorkCalendar, start: date, n: int, due: date) -> None:
    assert cal.add_working_days(start, n) == DayResult(due, False)


def test_counts_cross_holidays(cal: WorkCalendar) -> None:
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == CountResult(1, False)
    assert cal.working_days_between(D(2026, 10, 8), D(2026, 9, 30)) == CountResult(-1, False)
    # 9/28, 9/29, 9/30, 10/8, 10/9, Sat 10/10, 10/12
    assert cal.working_days_between(D(2026, 9, 24), D(2026, 10, 12)) == CountResult(7, False)
    assert cal.working_days_between(D(2026, 3, 2), D(2026, 3, 2)) == CountResult(0, False)
    # (a, b]: the start is never counted, the end is
    assert cal.working_days_between(D(2026, 3, 1), D(2026, 3, 2)).days == 1
    assert cal.working_days_between(D(2026, 3, 2), D(2026, 3, 3)).days == 1


def test_official_years_come_from_chinesecalendar(cal: WorkCalendar) -> None:
    assert cal.official_years() == list(range(CC_FIRST, CC_LAST + 1))
    assert cal.is_official(2026)
    assert not cal.is_official(2027)
    assert not cal.is_official(2003)
    assert cal.schedule(2027) is None
    assert cal.schedule(2026) is not None


def test_explicit_year_unknown_to_chinesecalendar_raises() -> None:
    with pytest.raises(NotImplementedError):
        schedules_from_chinesecalendar([2027])
    [s] = schedules_from_chinesecalendar([2026])
    assert s.source == "chinesecalendar"
    assert all(d.weekday() < 5 for d in s.holidays)
    assert all(d.weekday() >= 5 for d in s.workdays)


# --- estimated years -----------------------------------------------------------------------


def test_2027_is_estimated_on_weekends_and_statutory_holidays(cal: WorkCalendar) -> None:
    year = _days(D(2027, 1, 1), D(2027, 12, 31))
    off = statutory_holidays(2027)
    assert all(cal.is_working_day(d) == (d.weekday() < 5 and d not in off) for d in year)
    # 1 January 2027 (元旦) is a Friday: off even without the State Council's notice
    assert not cal.is_working_day(D(2027, 1, 1))
    assert cal.add_working_days(D(2026, 12, 31), 1) == DayResult(D(2027, 1, 4), True)
    assert cal.add_working_days(D(2027, 1, 4), -1) == DayResult(D(2026, 12, 31), True)
    # 春节: 除夕 Fri 5 February to 初三 Mon 8 February
    assert [cal.is_working_day(d) for d in _days(D(2027, 2, 4), D(2027, 2, 9))] == [
        True,
        False,
        False,
        False,
        False,
        True,
    ]
    assert cal.add_working_days(D(2027, 2, 4), 1) == DayResult(D(2027, 2, 9), True)
    # 261 weekdays in 2027, 7 of its 13 statutory days off fall on one; (1/1, 12/31] skips 1/1
    assert cal.working_days_between(D(2027, 1, 1), D(2027, 12, 31)) == CountResult(254, True)
    assert cal.working_days_between(D(2026, 12, 30), D(2026, 12, 31)) == CountResult(1, False)
    assert cal.working_days_between(D(2026, 12, 30), D(2027, 1, 1)) == CountResult(1, True)


def test_estimated_when_any_year_in_between_lacks_a_schedule() -> None:
    def sched(y: int) -> YearSchedule:
        return YearSchedule(y, frozenset(), frozenset())

    cal = WorkCalendar([sched(2020), sched(2022)])
    assert not cal.add_working_days(D(2020, 6, 1), 10).estimated
    assert cal.add_working_days(D(2020, 6, 1), 600).date.year == 2022
    assert cal.add_working_days(D(2020, 6, 1), 600).estimated  # 2021 has no schedule
    assert cal.working_days_between(D(2022, 6, 1), D(2020, 6, 1)).estimated
    assert not cal.working_days_between(D(2022, 6, 1), D(2022, 1, 1)).estimated


def test_empty_calendar_is_estimated_on_statutory_holidays() -> None:
    cal = WorkCalendar()
    assert cal.official_years() == []
    # 国庆 1-3 October, then Sun 4 October: the estimate knows no 调休 of 2026
    assert cal.add_working_days(D(2026, 9, 30), 1) == DayResult(D(2026, 10, 5), True)
    assert cal.add_working_days(D(2026, 10, 3), 0) == DayResult(D(2026, 10, 5), True)


def test_later_schedule_for_a_year_replaces_an_earlier_one() -> None:
    off = YearSchedule(2030, frozenset({D(2030, 1, 1)}), frozenset(), "first")
    on = YearSchedule(2030, frozenset(), frozenset(), "second")
    assert not WorkCalendar([off]).is_working_day(D(2030, 1, 1))
    assert WorkCalendar([off, on]).is_working_day(D(2030, 1, 1))
    assert WorkCalendar([off, on]).schedule(2030) == on


def test_a_year_without_any_working_day_is_skipped() -> None:
    days = _days(D(2030, 1, 1), D(2030, 12, 31))
    cal = WorkCalendar([YearSchedule(2030, frozenset(days), frozenset())])
    # 2031-01-01 is 元旦 of an estimated year, so the next working day is Thu 2 January
    assert cal.add_working_days(D(2029, 12, 31), 1) == DayResult(D(2031, 1, 2), True)
    assert cal.add_working_days(D(2031, 1, 2), -1) == DayResult(D(2029, 12, 31), True)
    assert cal.next_working_day(D(2030, 5, 5)) == D(2031, 1, 2)
    assert cal.working_days_between(D(2029, 12, 31), D(2031, 1, 2)).days == 1


def test_supported_span_1900_to_2200(cal: WorkCalendar) -> None:
    # 1 January 1900 (元旦, a Monday) is off; 31 December 2200 is a Wednesday
    assert cal.add_working_days(D(1900, 1, 1), 0) == DayResult(D(1900, 1, 2), True)
    assert cal.add_working_days(D(2200, 12, 31), 0) == DayResult(D(2200, 12, 31), True)
    total = cal.working_days_between(D(1899, 12, 31), D(2200, 12, 31)).days
    assert cal.add_working_days(D(1899, 12, 31), total).date == D(2200, 12, 31)
    assert cal.add_working_days(D(2200, 12, 31), -total + 1).date == D(1900, 1, 2)


def test_leaving_the_date_range_raises_overflow() -> None:
    cal = WorkCalendar()
    with pytest.raises(OverflowError):
        cal.add_working_days(D(9999, 12, 30), 5)
    with pytest.raises(OverflowError):
        cal.add_working_days(D(1, 1, 3), -5)


def test_datetime_inputs_are_treated_as_their_date(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(datetime(2026, 10, 1, 9, 30))
    assert cal.is_working_day(datetime(2026, 10, 10, 9, 30))
    assert cal.add_working_days(datetime(2026, 9, 30, 17, 0), 1).date == D(2026, 10, 8)


def test_arithmetic_is_not_day_by_day(cal: WorkCalendar) -> None:
    # 300 years per call: a day-by-day loop needs ~110 000 steps per call and takes seconds,
    # the per-year arrays need ~300.
    cal.add_working_days(D(1900, 1, 1), 78_000)  # builds every year once
    t0 = time.perf_counter()
    for i in range(200):
        cal.add_working_days(D(1900, 1, 1 + i % 28), 78_000)
        cal.working_days_between(D(1900, 1, 1 + i % 28), D(2200, 12, 1))
    assert time.perf_counter() - t0 < 1.0


# --- properties against the naive reference ------------------------------------------------

dates = st.dates(min_value=D(2004, 1, 1), max_value=D(2030, 12, 31))
limits = st.integers(min_value=-400, max_value=400)


@settings(max_examples=300, deadline=None)
@given(start=dates, n=limits)
def test_add_matches_naive_reference(start: date, n: int) -> None:
    r = _cal().add_working_days(start, n)
    assert r.date == ref_add(start, n)
    assert r.estimated == ref_estimated(start.year, r.date.year)


@settings(max_examples=300, deadline=None)
@given(a=dates, b=dates)
def test_between_matches_naive_reference(a: date, b: date) -> None:
    if abs((b - a).days) > 800:
        b = a + timedelta(days=(b - a).days % 800)  # keep the naive loop short
    r = _cal().working_days_between(a, b)
    assert r.days == ref_between(a, b)
    assert r.estimated == ref_estimated(a.year, b.year)


@settings(max_examples=300, deadline=None)
@given(d=dates)
def test_next_working_day_and_is_working_day_match_reference(d: date) -> None:
    cal = _cal()
    assert cal.is_working_day(d) == ref_is_working(d)
    nxt = cal.next_working_day(d)
    assert nxt >= d and ref_is_working(nxt)
    assert not any(ref_is_working(x) for x in _days(d, nxt - timedelta(days=1)))


@settings(max_examples=500, deadline=None)
@given(start=dates, n=st.integers(min_value=1, max_value=5000))
def test_count_inverts_add(start: date, n: int) -> None:
    cal = _cal()
    a = cal.next_working_day(start)
    due = cal.add_working_days(a, n)
    assert cal.working_days_between(a, due.date) == CountResult(n, due.estimated)
    assert cal.add_working_days(due.date, -n).date == a


def test_recount_moves_a_due_date_onto_the_official_schedule() -> None:
    estimate = WorkCalendar()
    official = WorkCalendar(
        [YearSchedule(2027, frozenset(_days(D(2027, 2, 5), D(2027, 2, 13))), frozenset())]
    )
    # Thu 4 February + 5: estimated 9-12, 15 February; officially off until the 13th
    assert estimate.add_working_days(D(2027, 2, 4), 5) == DayResult(D(2027, 2, 15), True)
    assert recount(estimate, official, D(2027, 2, 4), D(2027, 2, 15)) == DayResult(
        D(2027, 2, 19), False
    )
    # a limit of 0 taken on a day off stays "the next working day"
    assert recount(estimate, official, D(2027, 2, 6), D(2027, 2, 9)) == DayResult(
        D(2027, 2, 15), False
    )
