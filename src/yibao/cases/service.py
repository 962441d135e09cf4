"""Use cases of cases: intake, act, read, list. Each loads, decides with the rules, commits once."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import FULL_ID_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import Action, ActorRef, CaseSnapshot, Command, State
from yibao.cases.models import Case, CaseEvent, IdempotencyRecord
from yibao.cases.schemas import CHANNELS, ActionIn, IntakeIn
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.visits.models import Visit

MAX_BACKDATE = timedelta(days=90)  # how old an offline capture may be
CLOCK_SKEW = timedelta(minutes=5)  # a laptop clock slightly ahead is not "the future"
RUNNING: tuple[str, ...] = (State.RECEIVED, State.IN_PROGRESS, State.FORWARDED)


@dataclass(frozen=True)
class IntakeResult:
    """The case, and whether this call created it (false: an idempotent replay)."""

    case: Case
    created: bool


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


# ---------------------------------------------------------------- intake


def intake(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    request: IntakeIn,
    idempotency_key: str | None = None,
) -> IntakeResult:
    """Take a new case at a station; the case and its first event commit together."""
    if actor.role not in (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER):
        raise Forbidden(f"the role '{actor.role.value}' cannot take cases")
    ref = runtime.reference()
    now = runtime.now()
    checked = _check_intake(ref, actor, request, now)
    visit_id = request.visit_id
    if visit_id is not None:
        _check_visit(
            uow.session,
            actor,
            visit_id,
            checked["station"],
            runtime.local_date(checked["received_at"]),
        )
    elif ref.units.get(checked["station"]) == "mobile":
        # A mobile team at a village: the case belongs to that day's visit without asking.
        visit_id = _visit_at(
            uow.session, runtime, actor.agency, checked["station"], checked["received_at"]
        )
    key = _check_key(idempotency_key)
    digest = _request_hash(request) if key else ""

    for _attempt in range(5):
        session = uow.session
        if key:
            replay = _replay(session, actor, key, digest)
            if replay is not None:
                uow.commit()  # end the transaction; the loaded case stays usable
                return IntakeResult(replay, created=False)
        captured = checked["received_at"]
        intake_date = runtime.local_date(captured)
        due = rules.due_at_intake(ref.calendar, intake_date, checked["limit"])
        case = Case(
            id=uuid.uuid4(),
            agency=actor.agency,
            case_no=runtime.case_no_prefix + _new_case_no(intake_date),
            service_code=request.service_code,
            intake_station=checked["station"],
            unit=checked["station"],
            channel=request.channel,
            state=lifecycle.INITIAL.value,
            applicant_id_number=checked["id"].value,
            applicant_id_tail=checked["id"].tail,
            applicant_name=checked["name"],
            applicant_initials=people.name_initials(checked["name"]),
            applicant_phone=checked["phone"],
            materials_received=checked["materials"],
            materials_missing=[],
            note=request.note or None,
            visit_id=visit_id,
            received_at=captured,
            intake_date=intake_date,
            due_date=due.date,
            due_estimated=due.estimated,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.add(
            _event(
                case,
                actor,
                seq=1,
                at=now,
                action="intake",
                from_state=None,
                to_state=lifecycle.INITIAL,
                detail={
                    "station": case.intake_station,
                    "channel": case.channel,
                    "due_date": case.due_date.isoformat(),
                    "captured_at": captured.isoformat(),
                    **({"visit_id": str(visit_id)} if visit_id else {}),
                },
            )
        )
        if key:
            session.add(
                IdempotencyRecord(
                    agency=actor.agency,
                    user_id=actor.id,
                    key=key,
                    request_hash=digest,
                    case_id=case.id,
                    created_at=now,
                )
            )
        if runtime.field_hook is not None:
            runtime.field_hook(
                session,
                "case",
                case,
                {**request.model_dump(mode="json"), "captured_at": captured.isoformat()},
            )
        audit.record(
            session,
            agency=actor.agency,
            actor_id=actor.id,
            actor_name=actor.username,
            action="case.intake",
            object_type="case",
            object_id=case.case_no,
            ip=actor.ip,
            detail={"service": case.service_code, "station": case.intake_station},
        )
        try:
            uow.commit()
        except IntegrityError:
            # A case number drawn twice, or the same key sent twice at once: look again.
            uow.rollback()
            continue
        return IntakeResult(case, created=True)
    raise Conflict("could not allocate a case number; try again")


def _check_intake(ref: Reference, actor: Actor, request: IntakeIn, now: datetime) -> dict[str, Any]:
    """Every check on an intake request at once, so the clerk sees all errors together."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    service = ref.services.get(request.service_code)
    if service is None:
        errors.append(
            FieldError(
                "service_code", f"unknown service '{request.service_code}'", "未知的服务事项"
            )
        )
    station = request.station_code.upper()
    kind = ref.units.get(station)
    if kind is None:
        errors.append(
            FieldError("station_code", f"unknown station '{request.station_code}'", "未知的服务站")
        )
    elif station != actor.unit:
        errors.append(
            FieldError(
                "station_code",
                "you can only take cases at your own station",
                "只能在本人所在服务站受理",
            )
        )
    elif service is not None and kind not in service.accept_kinds:
        errors.append(
            FieldError(
                "service_code",
                f"a {kind} station may not accept '{service.code}'",
                "本服务站不能受理该事项",
            )
        )
    if request.channel not in CHANNELS:
        errors.append(
            FieldError(
                "channel", f"unknown channel; one of {', '.join(CHANNELS)}", "未知的受理渠道"
            )
        )
    try:
        out["id"] = people.parse_id_number(request.applicant.id_number, today=now.date())
    except people.InvalidInput as exc:
        errors.append(FieldError("applicant.id_number", exc.message, exc.message_zh))
    try:
        out["name"] = people.normalize_name(request.applicant.name)
    except people.InvalidInput as exc:
        errors.append(FieldError("applicant.name", exc.message, exc.message_zh))
    try:
        out["phone"] = people.normalize_phone(request.applicant.phone)
    except people.InvalidInput as exc:
        errors.append(FieldError("applicant.phone", exc.message, exc.message_zh))
    materials: list[str] = []
    for i, code in enumerate(request.materials):
        if service is not None and code not in service.materials:
            errors.append(
                FieldError(
                    f"materials[{i}]",
                    f"'{code}' is not a material of this item",
                    "不是该事项的材料",
                )
            )
        elif code not in materials:
            materials.append(code)
    out["materials"] = materials
    captured = request.captured_at
    if captured is not None:
        if captured.tzinfo is None:
            errors.append(
                FieldError("captured_at", "give a time zone, e.g. +08:00", "请带时区，如 +08:00")
            )
        elif captured > now + CLOCK_SKEW:
            errors.append(
                FieldError("captured_at", "capture time is in the future", "采集时间不能晚于现在")
            )
        elif captured < now - MAX_BACKDATE:
            errors.append(
                FieldError(
                    "captured_at", "capture time is more than 90 days ago", "采集时间不能早于90天前"
                )
            )
    if errors:
        raise ValidationFailed(errors)
    assert service is not None
    out["station"] = station
    out["received_at"] = captured if captured is not None else now
    out["limit"] = rules.time_limit(
        service.time_limit_days, service.channel_limits, request.channel
    )
    return out


def _visit_at(
    session: Session, runtime: Runtime, agency: str, station: str, moment: datetime
) -> uuid.UUID | None:
    """The station's visit under way at ``moment`` (or its only visit that day), if any."""
    local = moment.astimezone(runtime.tz)
    visits = list(
        session.scalars(
            select(Visit).where(
                Visit.agency == agency,
                Visit.station_code == station,
                Visit.visit_date == local.date(),
                Visit.state != "cancelled",
            )
        )
    )
    during = [v for v in visits if v.start_time <= local.time() <= v.end_time]
    if len(during) == 1:
        return during[0].id
    return visits[0].id if len(visits) == 1 else None


def _check_visit(
    session: Session, actor: Actor, visit_id: uuid.UUID, station: str, day: date
) -> None:
    """A case links only to a visit of its intake station on its capture date."""
    visit = session.get(Visit, visit_id)
    if (
        visit is None
        or visit.agency != actor.agency
        or visit.station_code != station
        or visit.visit_date != day
        or visit.state == "cancelled"
    ):
        raise ValidationFailed.single(
            "visit_id",
            "not a visit of this station on the capture date",
            "不是本服务站在受理当天的到访",
        )


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200 or not key.isprintable():
        raise ValidationFailed.single(
            "Idempotency-Key", "1–200 printable characters", "幂等键须为1–200个可打印字符"
        )
    return key


def _request_hash(request: IntakeIn) -> str:
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(session: Session, actor: Actor, key: str, digest: str) -> Case | None:
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.agency == actor.agency,
            IdempotencyRecord.user_id == actor.id,
            IdempotencyRecord.key == key,
        )
    )
    if record is None:
        return None
    if record.request_hash != digest:
        raise ValidationFailed.single(
            "Idempotency-Key",
            "this key was already used with a different request body",
            "该幂等键已用于另一份不同的请求",
        )
    return session.get(Case, record.case_id)


def _new_case_no(intake_date: date) -> str:
    # Date + 7 random digits: unguessable enough for a tail-checked lookup, short to read out.
    return f"{intake_date:%Y%m%d}{secrets.randbelow(10**7):07d}"


def _event(
    case: Case,
    actor: Actor,
    *,
    seq: int,
    at: datetime,
    action: str,
    from_state: str | None,
    to_state: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    return CaseEvent(
        agency=case.agency,
        case_id=case.id,
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        actor_role=actor.role.value,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=detail or {},
    )


# ---------------------------------------------------------------- actions


def snapshot(case: Case, ref: Reference) -> CaseSnapshot:
    """The lifecycle's view of a stored case."""
    service = ref.services.get(case.service_code)
    return CaseSnapshot(
        state=State(case.state),
        unit=case.unit,
        intake_station=case.intake_station,
        due_date=case.due_date,
        remaining_days=case.remaining_days,
        materials=service.materials if service else (),
        received=tuple(case.materials_received or ()),
        complete_kinds=service.complete_kinds if service else frozenset(),
    )


def act(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, case_no: str, request: ActionIn
) -> Case:
    """Apply one lifecycle action to a case the actor may see, at the version they saw."""
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
    today = runtime.today()
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
            at=now,
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
