"""Loading and storing official schedules; the node's calendar is built from the database."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yibao.calendar.models import CalendarDay, CalendarYear
from yibao.calendar.rules import WorkCalendar, YearSchedule
from yibao.db import utcnow


def store_schedule(session: Session, schedule: YearSchedule) -> None:
    """Replace the stored schedule of ``schedule.year`` with this one (caller commits)."""
    session.execute(delete(CalendarDay).where(CalendarDay.year == schedule.year))
    existing = session.get(CalendarYear, schedule.year)
    if existing is None:
        session.add(CalendarYear(year=schedule.year, source=schedule.source, imported_at=utcnow()))
    else:
        existing.source = schedule.source
        existing.imported_at = utcnow()
    session.flush()
    # A weekend "holiday" is no exception to the weekday rule, so it is not stored.
    session.add_all(
        CalendarDay(day=d, year=schedule.year, kind="holiday")
        for d in sorted(schedule.holidays)
        if d.weekday() < 5
    )
    session.add_all(
        CalendarDay(day=d, year=schedule.year, kind="workday") for d in sorted(schedule.workdays)
    )


def load_schedules(session: Session) -> list[YearSchedule]:
    """Every stored official schedule."""
    years = {y.year: y.source for y in session.scalars(select(CalendarYear))}
    holidays: dict[int, set[date]] = defaultdict(set)
    workdays: dict[int, set[date]] = defaultdict(set)
    for day in session.scalars(select(CalendarDay)):
        (holidays if day.kind == "holiday" else workdays)[day.year].add(day.day)
    return [
        YearSchedule(
            year=y,
            holidays=frozenset(holidays[y]),
            workdays=frozenset(workdays[y]),
            source=src,
        )
        for y, src in sorted(years.items())
    ]


def load_calendar(session: Session) -> WorkCalendar:
    """The working-day calendar from the stored schedules."""
    return WorkCalendar(load_schedules(session))
