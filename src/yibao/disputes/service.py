"""Use cases of disputes: open, record mediation sessions, act (agree, escalate, withdraw), read.

Clerks and station masters see and work the disputes opened at their station; bureau officers
those of the whole agency; supervisors read them all; auditors and admins none. Each writing use
case commits once, with its timeline entry and an audit record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.cases import rules as case_rules
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.db import UnitOfWork
from yibao.disputes import rules
from yibao.disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeRepresentative,
    MediationSession,
    PartyStatement,
)
from yibao.disputes.rules import Action, DisputeState, Party
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.stations.models import Agency
from yibao.text import has_control, reject_control

PAGE_SIZE = 30
MAX_PAGE = 100
READER_ROLES = frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR})
Statement = Annotated[str, Field(max_length=4000)]


# ---------------------------------------------------------------- input shapes
class RepresentativeIn(BaseModel):
    """A person who speaks for one party."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    party: str = Field(max_length=10, description="hospital | insurer | patient")
    name: str = Field(max_length=50)
    title: str | None = Field(default=None, max_length=50, description="role or title")
    phone: str | None = Field(default=None, max_length=30, description="shown masked")


class DisputeIn(BaseModel):
    """A new dispute with its three parties and at least one representative of each."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    subject: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    hospital_name: str = Field(max_length=100)
    patient_name: str = Field(max_length=50)
    insurer_name: str | None = Field(default=None, max_length=100, description="default: ours")
    case_no: str | None = Field(default=None, max_length=20, description="a complaint case")
    limit_days: int | None = Field(default=None, ge=1, le=rules.MAX_LIMIT_DAYS)
    representatives: list[RepresentativeIn] = Field(max_length=12)


class DisputeActionIn(BaseModel):
    """A step of the lifecycle at the version the caller saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    action: str = Field(max_length=20, description="mediate | agree | escalate | withdraw")
    version: int = Field(ge=1, le=2**31 - 1)
    note: str | None = Field(default=None, max_length=2000)
    terms: str | None = Field(default=None, max_length=4000, description="agree: the terms")
    escalated_to: str | None = Field(default=None, max_length=200, description="escalate")
    withdrawn_by: str | None = Field(default=None, max_length=10, description="withdraw: party")


class SessionIn(BaseModel):
    """One mediation session: each party's statement apart from the mediator's notes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    session_date: dt.date
    mediator: str = Field(max_length=50)
    parties_present: list[str] = Field(max_length=3)
    mediator_notes: str | None = Field(default=None, max_length=4000)
    statements: dict[str, Statement] = Field(
        default_factory=dict, max_length=3, description="party → what that party said"
    )


@dataclass(frozen=True)
class DisputeFilter:
    """Filters of the dispute list; all optional."""

    state: str | None = None
    station: str | None = None
    overdue: bool = False
    q: str | None = None  # words of the subject, the hospital or the patient


@dataclass(frozen=True)
class SessionView:
    """A session with its statements by party."""

    session: MediationSession
    statements: dict[str, str]


@dataclass(frozen=True)
class DisputeView:
    """One dispute as read: row, representatives, sessions and timeline."""

    dispute: Dispute
    representatives: list[DisputeRepresentative]
    sessions: list[SessionView]
    events: list[DisputeEvent]


# ---------------------------------------------------------------- scoping


def require_reader(actor: Actor) -> None:
    """Auditors and admins have no dispute data (三员分立)."""
    if actor.role not in READER_ROLES:
        raise Forbidden(f"the role '{actor.role.value}' has no access to disputes")


def visible(actor: Actor) -> ColumnElement[bool]:
    """The disputes this actor may see: a station's own, or the agency's."""
    own = Dispute.agency == actor.agency
    if actor.role in (Role.BUREAU_OFFICER, Role.SUPERVISOR):
        return own
    if actor.role in (Role.CLERK, Role.STATION_MASTER) and actor.unit:
        return and_(own, Dispute.station_code == actor.unit)
    return false()


def _load(session: Session, actor: Actor, dispute_id: str | uuid.UUID) -> Dispute:
    require_reader(actor)
    try:
        key = dispute_id if isinstance(dispute_id, uuid.UUID) else uuid.UUID(str(dispute_id))
    except ValueError:
        raise NotFound("no such dispute") from None
    found = session.scalar(select(Dispute).where(visible(actor), Dispute.id == key))
    if found is None:
        raise NotFound("no such dispute")
    return found


def limit_days(ref: Reference) -> int:
    """The catalogue's limit of a complaint, the default deadline of a dispute."""
    item = ref.services.get(rules.SERVICE_CODE)
    return item.time_limit_days if item else rules.DEFAULT_LIMIT_DAYS


# ---------------------------------------------------------------- presenting


def dispute_dict(dispute: Dispute, ref: Reference, today: dt.date, actor: Actor) -> dict[str, Any]:
    """A dispute as the API and the pages show it (without parties and sessions)."""
    state = DisputeState(dispute.state)
    t = rules.timing(
        ref.calendar,
        today=today,
        due=dispute.due_date,
        closed=dispute.closed_date,
        estimated=dispute.due_estimated,
    )
    return {
        "id": str(dispute.id),
        "station_code": dispute.station_code,
        "station_name": ref.unit_names.get(dispute.station_code, dispute.station_code),
        "subject": dispute.subject,
        "description": dispute.description,
        "hospital_name": dispute.hospital_name,
        "insurer_name": dispute.insurer_name,
        "patient_name": dispute.patient_name,
        "case_no": dispute.case_no,
        "state": state.value,
        "state_label": rules.STATE_LABELS_ZH[state],
        "state_label_en": rules.STATE_LABELS_EN[state],
        "outcome": {
            "terms": dispute.terms,
            "escalated_to": dispute.escalated_to,
            "withdrawn_by": dispute.withdrawn_by,
        },
        "limit_days": dispute.limit_days,
        "opened_at": dispute.opened_at.isoformat(),
        "opened_date": dispute.opened_date.isoformat(),
        "opened_by": dispute.opened_by_name,
        "due_date": dispute.due_date.isoformat(),
        "due_estimated": t.estimated,
        "remaining_working_days": t.remaining_days,
        "light": t.light.value,
        "clock": t.clock.value,
        "overdue": t.light is case_rules.Light.RED and t.clock is not case_rules.Clock.STOPPED,
        "closed_date": dispute.closed_date.isoformat() if dispute.closed_date else None,
        "version": dispute.version,
        "allowed_actions": [
            a.value
            for a in rules.actions_for(actor.role.value, actor.unit, dispute.station_code, state)
        ],
        "may_record_session": state in rules.SESSION_STATES
        and rules.can_act(actor.role.value, actor.unit, dispute.station_code),
    }


def representative_dict(rep: DisputeRepresentative) -> dict[str, Any]:
    """A representative; the phone masked."""
    return {
        "party": rep.party,
        "name": rep.name,
        "title": rep.title,
        "phone": people.mask_phone(rep.phone) if rep.phone else None,
    }


def session_dict(view: SessionView) -> dict[str, Any]:
    """A session: who took part, each party's statement, and apart from them the mediator's."""
    s = view.session
    return {
        "seq": s.seq,
        "session_date": s.session_date.isoformat(),
        "mediator": s.mediator,
        "parties_present": list(s.parties_present or []),
        "statements": dict(view.statements),
        "mediator_notes": s.mediator_notes,
    }


def event_dict(event: DisputeEvent) -> dict[str, Any]:
    """One timeline entry."""
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": {"name": event.actor_name, "role": event.actor_role},
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "note": event.note,
        "detail": event.detail or {},
    }


def full_dict(view: DisputeView, ref: Reference, today: dt.date, actor: Actor) -> dict[str, Any]:
    """A dispute with its parties, sessions and timeline."""
    out = dispute_dict(view.dispute, ref, today, actor)
    out["representatives"] = [representative_dict(r) for r in view.representatives]
    out["sessions"] = [session_dict(s) for s in view.sessions]
    out["events"] = [event_dict(e) for e in view.events]
    return out


# ---------------------------------------------------------------- writing helpers


def _audit(session: Session, actor: Actor, action: str, dispute: Dispute, **detail: Any) -> None:
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"dispute.{action}",
        object_type="dispute",
        object_id=str(dispute.id),
        ip=actor.ip,
        detail={"station": dispute.station_code, **detail},
    )


def _event(
    session: Session,
    dispute: Dispute,
    actor: Actor,
    *,
    at: dt.datetime,
    action: str,
    from_state: str | None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    last = session.scalar(
        select(func.max(DisputeEvent.seq)).where(DisputeEvent.dispute_id == dispute.id)
    )
    session.add(
        DisputeEvent(
            agency=dispute.agency,
            dispute_id=dispute.id,
            seq=int(last or 0) + 1,  # autoflush: earlier events of this transaction count
            at=at,
            actor_id=actor.id,
            actor_name=actor.display_name or actor.username,
            actor_role=actor.role.value,
            action=action,
            from_state=from_state,
            to_state=dispute.state,
            note=note,
            detail=detail or {},
        )
    )


def _commit(uow: UnitOfWork, runtime: Runtime, dispute_id: uuid.UUID) -> None:
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.get(Dispute, dispute_id)
        raise Conflict(
            "the dispute changed while you were working on it",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None


def _check_representatives(
    reps: list[RepresentativeIn],
) -> tuple[list[dict[str, Any]], list[FieldError]]:
    errors: list[FieldError] = []
    clean: list[dict[str, Any]] = []
    parties = {p.value for p in Party}
    for i, rep in enumerate(reps):
        where = f"representatives[{i}]"
        row: dict[str, Any] = {"party": rep.party, "title": rep.title or None, "phone": None}
        if rep.party not in parties:
            errors.append(
                FieldError(f"{where}.party", "hospital, insurer or patient", "请选择当事方")
            )
        try:
            row["name"] = people.normalize_name(rep.name)
        except people.InvalidInput as exc:
            errors.append(FieldError(f"{where}.name", exc.message, exc.message_zh))
        if rep.phone:
            try:
                row["phone"] = people.normalize_phone(rep.phone)
            except people.InvalidInput as exc:
                errors.append(FieldError(f"{where}.phone", exc.message, exc.message_zh))
        clean.append(row)
    given = {r.party for r in reps}
    for p in Party:
        if p.value not in given:
            errors.append(
                FieldError(
                    "representatives",
                    f"name a representative of the {p.value}",
                    f"请填写{rules.PARTY_LABELS_ZH[p]}方代表",
                )
            )
    return clean, errors


def _complaint_case(session: Session, actor: Actor, case_no: str) -> Case | None:
    return session.scalar(
        select(Case).where(
            visible_cases(actor), Case.case_no == case_no, Case.service_code == rules.SERVICE_CODE
        )
    )


# ---------------------------------------------------------------- use cases: writing


def open_dispute(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, request: DisputeIn) -> Dispute:
    """Open a dispute at one's station (station staff) or at the bureau hall (officers)."""
    session = uow.session
    if not rules.may_open(actor.role.value, actor.unit):
        raise Forbidden("only station staff and bureau officers open disputes")
    ref = runtime.reference(session)
    station = actor.unit if actor.role in (Role.CLERK, Role.STATION_MASTER) else None
    station = station or actor.unit or ref.bureau_unit()
    if station is None or station not in ref.units:
        raise Forbidden("no station to open the dispute at")
    errors: list[FieldError] = []
    if not request.subject:
        errors.append(FieldError("subject", "what the dispute is about", "请填写纠纷事由"))
    if not request.hospital_name:
        errors.append(FieldError("hospital_name", "which hospital", "请填写医院名称"))
    patient = ""
    try:
        patient = people.normalize_name(request.patient_name)
    except people.InvalidInput as exc:
        errors.append(FieldError("patient_name", exc.message, exc.message_zh))
    reps, problems = _check_representatives(request.representatives)
    errors += problems
    case: Case | None = None
    if request.case_no:
        case = _complaint_case(session, actor, request.case_no)
        if case is None:
            errors.append(
                FieldError(
                    "case_no",
                    "no complaint case with this number that you may see",
                    "找不到该投诉办件",
                )
            )
    if errors:
        raise ValidationFailed(errors)
    insurer = request.insurer_name or _agency_name(session, actor.agency)
    now = runtime.now()
    today = runtime.local_date(now)
    days = request.limit_days or limit_days(ref)
    due = rules.due_date(ref.calendar, today, days)
    dispute = Dispute(
        id=uuid.uuid4(),
        agency=actor.agency,
        station_code=station,
        subject=request.subject,
        description=request.description or None,
        hospital_name=request.hospital_name,
        insurer_name=insurer,
        patient_name=patient,
        case_id=case.id if case else None,
        case_no=case.case_no if case else None,
        state=rules.INITIAL.value,
        limit_days=days,
        opened_at=now,
        opened_date=today,
        due_date=due.date,
        due_estimated=due.estimated,
        opened_by=actor.id,
        opened_by_name=actor.display_name or actor.username,
        updated_at=now,
    )
    session.add(dispute)
    session.flush()
    for i, rep in enumerate(reps, start=1):
        session.add(DisputeRepresentative(agency=actor.agency, dispute_id=dispute.id, seq=i, **rep))
    _event(session, dispute, actor, at=now, action="open", from_state=None)
    _audit(session, actor, "open", dispute, case_no=dispute.case_no)
    uow.commit()
    return dispute


def _agency_name(session: Session, agency: str) -> str:
    row = session.get(Agency, agency)
    return row.name_zh if row else agency


def _transition(
    session: Session,
    dispute: Dispute,
    actor: Actor,
    command: rules.Command,
    now: dt.datetime,
    today: dt.date,
) -> rules.Decision:
    decision = rules.decide(
        DisputeState(dispute.state),
        command,
        role=actor.role.value,
        unit=actor.unit,
        station=dispute.station_code,
        today=today,
    )
    dispute.state = decision.to_state.value
    for column, value in decision.changes.items():
        setattr(dispute, column, value)
    dispute.updated_at = now
    _event(
        session,
        dispute,
        actor,
        at=now,
        action=command.action.value,
        from_state=decision.from_state.value,
        note=decision.note,
        detail=decision.detail,
    )
    _audit(
        session,
        actor,
        command.action.value,
        dispute,
        from_state=decision.from_state.value,
        to_state=decision.to_state.value,
    )
    return decision


def act(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, dispute_id: str, request: DisputeActionIn
) -> Dispute:
    """A step of the lifecycle, at the version the caller saw (409 if stale)."""
    session = uow.session
    dispute = _load(session, actor, dispute_id)
    try:
        action = Action(request.action)
    except ValueError:
        raise ValidationFailed.single(
            "action", f"unknown action '{request.action}'", "未知的操作"
        ) from None
    if request.version != dispute.version:
        raise Conflict(
            f"the dispute changed (now version {dispute.version}, state {dispute.state})",
            current_version=dispute.version,
            current_state=dispute.state,
        )
    now = runtime.now()
    command = rules.Command(
        action=action,
        note=request.note,
        terms=request.terms,
        escalated_to=request.escalated_to,
        withdrawn_by=request.withdrawn_by,
    )
    _transition(session, dispute, actor, command, now, runtime.local_date(now))
    _commit(uow, runtime, dispute.id)
    return dispute


def record_session(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, dispute_id: str, request: SessionIn
) -> MediationSession:
    """Record a mediation session; the first one starts the mediation of an open dispute."""
    session = uow.session
    dispute = _load(session, actor, dispute_id)
    state = DisputeState(dispute.state)
    if not rules.can_act(actor.role.value, actor.unit, dispute.station_code):
        raise Forbidden("only the opening station's staff and bureau officers record sessions")
    if state not in rules.SESSION_STATES:
        raise ValidationFailed.single(
            "state", f"the dispute is {state.value}: no more sessions", "纠纷已办结，不能再记录调解"
        )
    now = runtime.now()
    today = runtime.local_date(now)
    errors = rules.check_session(request.parties_present, request.statements, request.mediator)
    if request.session_date > today:
        errors.append(
            FieldError("session_date", "a session cannot be in the future", "调解日期不能晚于今天")
        )
    if request.session_date < dispute.opened_date:
        errors.append(
            FieldError("session_date", "before the dispute was opened", "调解日期不能早于登记日期")
        )
    if errors:
        raise ValidationFailed(errors)
    if state is DisputeState.OPEN:
        _transition(session, dispute, actor, rules.Command(Action.MEDIATE), now, today)
    last = session.scalar(
        select(func.max(MediationSession.seq)).where(MediationSession.dispute_id == dispute.id)
    )
    present = [p.value for p in Party if p.value in set(request.parties_present)]
    row = MediationSession(
        agency=dispute.agency,
        dispute_id=dispute.id,
        seq=int(last or 0) + 1,
        session_date=request.session_date,
        mediator=request.mediator,
        parties_present=present,
        mediator_notes=request.mediator_notes or None,
        recorded_by=actor.id,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    for party in present:
        text = (request.statements.get(party) or "").strip()
        if text:
            session.add(
                PartyStatement(agency=dispute.agency, session_id=row.id, party=party, text=text)
            )
    dispute.updated_at = now
    _event(
        session,
        dispute,
        actor,
        at=now,
        action="session",
        from_state=dispute.state,
        detail={"seq": row.seq, "date": row.session_date.isoformat(), "present": present},
    )
    _audit(session, actor, "session", dispute, seq=row.seq)
    _commit(uow, runtime, dispute.id)
    return row


# ---------------------------------------------------------------- use cases: reading


def check_filter(ref: Reference, f: DisputeFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.state and f.state not in {s.value for s in DisputeState}:
        errors.append(FieldError("state", f"unknown state '{f.state}'", "未知的状态"))
    if f.station and f.station.upper() not in ref.units:
        errors.append(FieldError("station", f"unknown station '{f.station}'", "未知的服务站"))
    if f.q is not None and len(f.q) > 40:
        errors.append(FieldError("q", "at most 40 characters", "最多40个字符"))
    elif f.q is not None and has_control(f.q):
        errors.append(FieldError("q", "control characters are not allowed", "含有无效字符"))
    if errors:
        raise ValidationFailed(errors)


def list_disputes(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: DisputeFilter,
    limit: int = PAGE_SIZE,
    cursor: str | None = None,
) -> tuple[list[Dispute], str | None]:
    """A page of the disputes the actor may see, newest first."""
    require_reader(actor)
    ref = runtime.reference()
    check_filter(ref, filters)
    limit = max(1, min(limit, MAX_PAGE))
    secret = runtime.settings.secret_key
    stmt = select(Dispute).where(visible(actor))
    if filters.state:
        stmt = stmt.where(Dispute.state == filters.state)
    if filters.station:
        stmt = stmt.where(Dispute.station_code == filters.station.upper())
    if filters.overdue:
        open_states = [s.value for s in rules.OPEN_STATES]
        stmt = stmt.where(Dispute.state.in_(open_states), Dispute.due_date < runtime.today())
    if filters.q and filters.q.strip():
        like = f"%{filters.q.strip()}%"
        stmt = stmt.where(
            or_(
                Dispute.subject.like(like),
                Dispute.hospital_name.like(like),
                Dispute.patient_name.like(like),
            )
        )
    if cursor:
        at, ident = _cursor_key(decode_cursor(cursor, "disputes", secret))
        stmt = stmt.where(
            or_(Dispute.opened_at < at, and_(Dispute.opened_at == at, Dispute.id < ident))
        )
    rows = list(
        session.scalars(stmt.order_by(Dispute.opened_at.desc(), Dispute.id.desc()).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor("disputes", [last.opened_at.isoformat(), str(last.id)], secret)
    return rows, next_cursor


def _cursor_key(values: list[str]) -> tuple[dt.datetime, uuid.UUID]:
    try:
        at = dt.datetime.fromisoformat(values[0])
        if at.tzinfo is None:
            raise ValueError
        return at, uuid.UUID(values[1])
    except (ValueError, IndexError):
        raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None


def get_dispute(session: Session, *, actor: Actor, dispute_id: str) -> DisputeView:
    """One dispute with its representatives, sessions (statements by party) and timeline."""
    dispute = _load(session, actor, dispute_id)
    reps = list(
        session.scalars(
            select(DisputeRepresentative)
            .where(DisputeRepresentative.dispute_id == dispute.id)
            .order_by(DisputeRepresentative.seq)
        )
    )
    sessions = list(
        session.scalars(
            select(MediationSession)
            .where(MediationSession.dispute_id == dispute.id)
            .order_by(MediationSession.seq)
        )
    )
    said: dict[int, dict[str, str]] = {s.id: {} for s in sessions}
    if sessions:
        for st in session.scalars(
            select(PartyStatement).where(PartyStatement.session_id.in_(list(said)))
        ):
            said[st.session_id][st.party] = st.text
    events = list(
        session.scalars(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == dispute.id)
            .order_by(DisputeEvent.seq)
        )
    )
    return DisputeView(
        dispute,
        reps,
        [SessionView(s, said[s.id]) for s in sessions],
        events,
    )


def disputes_of_case(session: Session, *, actor: Actor, case_id: uuid.UUID) -> list[Dispute]:
    """The disputes linked to one complaint case that the actor may see."""
    if actor.role not in READER_ROLES:
        return []
    return list(
        session.scalars(
            select(Dispute)
            .where(visible(actor), Dispute.case_id == case_id)
            .order_by(Dispute.opened_at)
            .limit(20)
        )
    )
