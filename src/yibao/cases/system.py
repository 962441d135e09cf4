"""Case changes made by the node itself (e.g. a transfer message), inside another use case.

They go through the same lifecycle table as a person's actions; the event names the machine
step and its cause. Nothing here commits: the caller's transaction carries the change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import Action, ActorRef, Command, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.service import _new_case_no, snapshot
from yibao.errors import DomainError
from yibao.people import rules as people
from yibao.runtime import Runtime


def open_case(
    session: Session,
    *,
    runtime: Runtime,
    service_code: str,
    unit: str,
    channel: str,
    id_number: str,
    name: str,
    phone: str,
    actor_name: str,
    note: str | None = None,
) -> Case:
    """A case opened by the node (no person at a window), with its first event."""
    ref = runtime.reference()
    svc = ref.services[service_code]
    now = runtime.now()
    today = runtime.local_date(now)
    due = rules.due_at_intake(
        ref.calendar, today, rules.time_limit(svc.time_limit_days, svc.channel_limits, channel)
    )
    case = Case(
        id=uuid.uuid4(),
        agency=runtime.agency,
        case_no=_new_case_no(today),
        service_code=service_code,
        intake_station=unit,
        unit=unit,
        channel=channel,
        state=lifecycle.INITIAL.value,
        applicant_id_number=id_number,
        applicant_id_tail=id_number[-4:],
        applicant_name=name,
        applicant_initials=people.name_initials(name),
        applicant_phone=phone,
        materials_received=[],
        materials_missing=[],
        note=note,
        received_at=now,
        intake_date=today,
        due_date=due.date,
        due_estimated=due.estimated,
        created_by=None,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.add(
        _system_event(
            case,
            seq=1,
            action="intake",
            from_state=None,
            to_state=lifecycle.INITIAL.value,
            actor_name=actor_name,
            detail={"channel": channel, "due_date": due.date.isoformat()},
        )
    )
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=None,
        actor_name=actor_name,
        action="case.intake",
        object_type="case",
        object_id=case.case_no,
    )
    return case


def system_act(
    session: Session,
    *,
    runtime: Runtime,
    case_no: str,
    actions: list[Action],
    actor_name: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> list[str]:
    """Apply the first of ``actions`` the table allows, repeatedly; returns what was applied.

    E.g. ``[TAKE, START, COMPLETE]`` brings a case to completed from wherever it stands.
    A step the table refuses is skipped: the machine never forces a state.
    """
    case = session.scalar(
        select(Case).where(Case.agency == runtime.agency, Case.case_no == case_no)
    )
    if case is None:
        return []
    ref = runtime.reference()
    today = runtime.today()
    done: list[str] = []
    for action in actions:
        state = State(case.state)
        if (state, action) not in lifecycle.TRANSITIONS:
            continue
        try:
            decision = lifecycle.decide(
                snapshot(case, ref),
                Command(action=action, reason=reason),
                ActorRef(role="bureau_officer", unit=case.unit),
                today=today,
                calendar=ref.calendar,
                unit_kinds=ref.units,
            )
        except DomainError:
            continue
        for column, value in decision.changes.items():
            setattr(case, column, value)
        case.state = decision.to_state.value
        case.updated_at = runtime.now()
        last = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id))
        session.add(
            _system_event(
                case,
                seq=(last or 0) + 1,
                action=action.value,
                from_state=decision.from_state.value,
                to_state=decision.to_state.value,
                actor_name=actor_name,
                reason=decision.reason,
                detail={**decision.detail, **(detail or {})},
            )
        )
        session.flush()
        done.append(action.value)
    return done


def _system_event(
    case: Case,
    *,
    seq: int,
    action: str,
    from_state: str | None,
    to_state: str,
    actor_name: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    return CaseEvent(
        agency=case.agency,
        case_id=case.id,
        seq=seq,
        at=case.updated_at,
        actor_id=None,
        actor_name=actor_name,
        actor_role="system",
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=detail or {},
    )
