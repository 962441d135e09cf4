"""Due dates counted on an estimated year, counted again when its official schedule arrives.

Runs inside the calendar import's transaction (nothing here commits): each changed case gets
an event (old → new due date, why) and an audit record, in the same commit as the schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.calendar.rules import WorkCalendar, recount
from yibao.cases.lifecycle import TERMINAL, Action, State
from yibao.cases.models import Case, CaseEvent

ACTION = "recompute_due"
REASON = "official schedule of {year} imported"


def _clock_start(session: Session, case: Case, local_date: Callable[[datetime], date]) -> date:
    # The clock last started at intake, or at the latest 补正 (supplement) after a pause.
    at = session.scalar(
        select(func.max(CaseEvent.at)).where(
            CaseEvent.case_id == case.id, CaseEvent.action == Action.SUPPLEMENT.value
        )
    )
    return local_date(at) if at is not None else case.intake_date


def recompute_due_dates(
    session: Session,
    *,
    old: WorkCalendar,
    new: WorkCalendar,
    year: int,
    local_date: Callable[[datetime], date],
    now: datetime,
    actor_id: int | None,
    actor_name: str,
    actor_role: str,
    ip: str | None = None,
) -> int:
    """Recount the due dates of open, running cases counted on an estimate; the number changed."""
    skip = [s.value for s in TERMINAL] + [State.MATERIALS_PENDING.value]  # paused: days kept
    cases = session.scalars(
        select(Case)
        .where(Case.due_estimated.is_(True), Case.state.not_in(skip))
        .order_by(Case.agency, Case.id)
    ).all()
    changed = 0
    for case in cases:
        result = recount(old, new, _clock_start(session, case, local_date), case.due_date)
        if result.date == case.due_date and result.estimated == case.due_estimated:
            continue
        before = case.due_date
        seq = session.scalar(
            select(func.coalesce(func.max(CaseEvent.seq), 0)).where(CaseEvent.case_id == case.id)
        )
        case.due_date, case.due_estimated = result.date, result.estimated
        reason = REASON.format(year=year)
        detail = {
            "old_due_date": before.isoformat(),
            "due_date": result.date.isoformat(),
            "due_estimated": result.estimated,
            "calendar_year": year,
        }
        session.add(
            CaseEvent(
                agency=case.agency,
                case_id=case.id,
                seq=(seq or 0) + 1,
                at=now,
                actor_id=actor_id,
                actor_name=actor_name,
                actor_role=actor_role,
                action=ACTION,
                from_state=case.state,
                to_state=case.state,
                reason=reason,
                detail=detail,
            )
        )
        audit.record(
            session,
            agency=case.agency,
            actor_id=actor_id,
            actor_name=actor_name,
            action="case.recompute_due",
            object_type="case",
            object_id=case.case_no,
            ip=ip,
            detail=detail,
        )
        changed += 1
    return changed
