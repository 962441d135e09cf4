"""Importing an official schedule: the year's rows and the due dates it corrects, one commit."""

from __future__ import annotations

from dataclasses import dataclass

from yibao.audit import service as audit
from yibao.calendar.models import CalendarYear
from yibao.calendar.rules import WorkCalendar, YearSchedule
from yibao.calendar.service import load_schedules, store_schedule
from yibao.db import UnitOfWork
from yibao.runtime import Runtime


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: whether it replaced a year on record, how many cases it recounted."""

    year: int
    replaced: bool
    recomputed: int


def import_schedule(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    schedule: YearSchedule,
    actor_id: int | None,
    actor_name: str,
    actor_role: str,
    agency: str,
    ip: str | None = None,
) -> ImportOutcome:
    """Store ``schedule``, recount the estimated due dates of open cases, audit, commit once."""
    from yibao.cases.recompute import recompute_due_dates  # cases depends on calendar

    session = uow.session
    before = load_schedules(session)
    old = WorkCalendar(before)
    replaced = session.get(CalendarYear, schedule.year) is not None
    store_schedule(session, schedule)
    new = WorkCalendar([*before, schedule])
    recomputed = recompute_due_dates(
        session,
        old=old,
        new=new,
        year=schedule.year,
        local_date=runtime.local_date,
        now=runtime.now(),
        actor_id=actor_id,
        actor_name=actor_name,
        actor_role=actor_role,
        ip=ip,
    )
    audit.record(
        session,
        agency=agency,
        actor_id=actor_id,
        actor_name=actor_name,
        action="calendar.import",
        object_type="calendar_year",
        object_id=str(schedule.year),
        ip=ip,
        detail={
            "source": schedule.source,
            "holidays": len(schedule.holidays),
            "workdays": len(schedule.workdays),
            "replaced": replaced,
            "recomputed": recomputed,
        },
    )
    uow.commit()
    return ImportOutcome(schedule.year, replaced, recomputed)
