"""Use cases of cases: scoping, actions and reads. Each loads, decides with the rules, commits once.

Taking a case (受理, and 当场办结) lives in ``cases.intake``; it is re-exported here, so callers
keep writing ``service.intake``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import FULL_ID_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.cases import lifecycle
from yibao.cases.intake import IntakeResult, _new_case_no, intake
from yibao.cases.lifecycle import Action, ActorRef, Command, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.records import new_event as _event
from yibao.cases.records import snapshot
from yibao.cases.schemas import ActionIn
from yibao.db import UnitOfWork
from yibao.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yibao.runtime import Runtime

__all__ = [
    "RUNNING",
    "IntakeResult",
    "_new_case_no",
    "act",
    "events",
    "get_case",
    "intake",
    "require_case_role",
    "reveal_id_number",
    "snapshot",
    "visible",
]

RUNNING: tuple[str, ...] = (State.RECEIVED, State.IN_PROGRESS, State.FORWARDED)

# ---------------------------------------------------------------- scoping


def require_case_role(actor: Actor) -> None:
    """Refuse roles that may not read case data at all (auditor, admin)."""
    if not actor.sees_cases:
        raise Forbidden(f"the role '{actor.role.value}' has no access to case data")


def visible(actor: Actor) -> ColumnElement[bool]:
    """The rows of ``cases`` this actor may see: the scope every case query carries."""
    own_agency = Case.agency == actor.agency
    if actor.agency_wide:
        return own_agency
    if actor.role in (Role.CLERK, Role.STATION_MASTER) and actor.unit:
        return and_(own_agency, or_(Case.intake_station == actor.unit, Case.unit == actor.unit))
    return and_(own_agency, Case.id.is_(None))  # nothing


def _load(session: Session, actor: Actor, case_no: str, *, for_update: bool = False) -> Case:
    require_case_role(actor)
    stmt = select(Case).where(visible(actor), Case.case_no == case_no)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise NotFound(f"case {case_no} not found")
    return case


# ---------------------------------------------------------------- actions


def act(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    case_no: str,
    request: ActionIn,
    at: datetime | None = None,
) -> Case:
    """Apply one lifecycle action to a case the actor may see, at the version they saw.

    ``at``: when it was done, for an action captured offline (checked by the caller); the
    event and the working-day clock use it, so a Friday completion synced Monday is Friday's."""
    session = uow.session
    case = _load(session, actor, case_no)
    try:
        action = Action(request.action)
    except ValueError:
        raise ValidationFailed.single(
            "action", f"unknown action; one of {', '.join(a.value for a in Action)}", "未知的操作"
        ) from None
    if request.version != case.version:
        raise Conflict(
            f"the case changed (now version {case.version}, state {case.state})",
            current_version=case.version,
            current_state=case.state,
        )
    ref = runtime.reference()
    today = runtime.today() if at is None else runtime.local_date(at)
    decision = lifecycle.decide(
        snapshot(case, ref),
        Command(
            action=action,
            reason=request.reason,
            missing_materials=tuple(request.missing_materials or ()),
            to_unit=request.to_unit,
        ),
        ActorRef(role=actor.role.value, unit=actor.unit),
        today=today,
        calendar=ref.calendar,
        unit_kinds=ref.units,
    )
    now = runtime.now()
    done_at = at or now
    # Read before the first change, so no autoflush sends the UPDATE ahead of the commit below.
    last_seq = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id))
    if runtime.field_hook is not None:
        runtime.field_hook(
            session,
            "action",
            case,
            {**request.model_dump(mode="json"), "case_no": case.case_no, "case_id": str(case.id)},
        )
    for column, value in decision.changes.items():
        setattr(case, column, value)
    case.state = decision.to_state.value
    case.updated_at = now
    session.add(
        _event(
            case,
            actor,
            seq=(last_seq or 0) + 1,
            at=done_at,
            action=action.value,
            from_state=decision.from_state.value,
            to_state=decision.to_state.value,
            reason=decision.reason,
            detail=decision.detail,
        )
    )
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"case.{action.value}",
        object_type="case",
        object_id=case.case_no,
        ip=actor.ip,
        detail={"from": decision.from_state.value, "to": decision.to_state.value},
    )
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        # Someone else acted between our read and our write: they won.
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.scalar(select(Case).where(Case.id == case.id))
        raise Conflict(
            "the case changed while you were acting",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None
    return case


# ---------------------------------------------------------------- reads


def get_case(session: Session, *, actor: Actor, case_no: str) -> Case:
    """One case the actor may see (404 otherwise, as if it did not exist)."""
    return _load(session, actor, case_no)


def events(session: Session, *, actor: Actor, case_no: str) -> list[CaseEvent]:
    """The timeline of a case the actor may see."""
    case = _load(session, actor, case_no)
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    )


def reveal_id_number(uow: UnitOfWork, *, actor: Actor, case_no: str) -> str:
    """The full ID number of the applicant: needs the right, and leaves an audit record."""
    case = _load(uow.session, actor, case_no)
    if actor.role not in FULL_ID_ROLES:
        raise Forbidden("your role may not read full ID numbers")
    audit.record(
        uow.session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.read_id_number",
        object_type="case",
        object_id=case.case_no,
        ip=actor.ip,
    )
    uow.commit()
    return case.applicant_id_number


MAX_REVEAL_REASON = 200


def reveal_phone(uow: UnitOfWork, *, actor: Actor, case_no: str, reason: str) -> str:
    """The applicant's full phone number, to call them: a reason is required and recorded."""
    why = (reason or "").strip()
    if not why or len(why) > MAX_REVEAL_REASON:
        raise ValidationFailed.single(
            "reason",
            f"say why you need the full number (1 to {MAX_REVEAL_REASON} characters)",
            "请填写查看完整号码的理由",
        )
    case = _load(uow.session, actor, case_no)
    audit.record(
        uow.session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.read_phone",
        object_type="case",
        object_id=case.case_no,
        ip=actor.ip,
        detail={"reason": why},
    )
    uow.commit()
    return case.applicant_phone
