"""Use cases of supervision leads: raise, work (verify, intervene, close), add notes and
evidence, and read — every read audited.

Confidential: a lead exists only for supervisors of the agency and for the person who raised it.
For anyone else it is missing: the same NotFound as an unknown id, in pages, the API and
attachment downloads, and it is never in their lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import Actor, Role
from yibao.attachments import service as attachments
from yibao.attachments.models import Attachment
from yibao.attachments.service import AttachmentInfo
from yibao.audit import service as audit
from yibao.cases import rules as case_rules
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.leads import rules
from yibao.leads.models import Lead, LeadEvent
from yibao.leads.rules import Action, LeadState, Urgency
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.text import reject_control

OWNER = "lead"  # owner_type of a lead's attachments
PAGE_SIZE = 30
MAX_PAGE = 100
READER_ROLES = frozenset({Role.SUPERVISOR, Role.CLERK, Role.STATION_MASTER})


# ---------------------------------------------------------------- input shapes
class LeadIn(BaseModel):
    """A new lead, as a hospital-station clerk or station master raises it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    kind: str = Field(max_length=30)
    description: str = Field(max_length=4000)
    urgency: str = Field(default="normal", max_length=10, description="normal | urgent")
    patient_id_number: str | None = Field(
        default=None, max_length=30, description="optional; shown masked, a full read audited"
    )


class LeadActionIn(BaseModel):
    """A supervisor's step on a lead at the version they saw; a note is always required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    action: str = Field(max_length=20, description="verify | intervene | confirm | dismiss")
    version: int = Field(ge=1, le=2**31 - 1)
    note: str | None = Field(default=None, max_length=2000)
    actions_taken: str | None = Field(
        default=None, max_length=2000, description="intervene: the actions taken"
    )
    amount_recovered: str | None = Field(
        default=None,
        max_length=30,
        description='confirm: yuan with at most 2 decimals, as a string (e.g. "1234.56")',
    )


class LeadNoteIn(BaseModel):
    """A note added to an open lead by its author or a supervisor."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_text = field_validator("*")(reject_control)

    note: str = Field(max_length=2000)


@dataclass(frozen=True)
class LeadFilter:
    """Filters of the lead list; all optional."""

    state: str | None = None
    kind: str | None = None
    urgency: str | None = None
    mine: bool = False  # only the leads I raised (a supervisor's list shows all by default)


@dataclass(frozen=True)
class LeadView:
    """One lead as read: the row, its timeline and its evidence."""

    lead: Lead
    events: list[LeadEvent]
    files: list[AttachmentInfo]


# ---------------------------------------------------------------- reference data


@cache
def kinds() -> dict[str, tuple[str, str]]:
    """Kinds of leads (data/kinds.yaml): code → (Chinese, English)."""
    text = resources.files("yibao.leads").joinpath("data/kinds.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return {str(k["code"]): (str(k["name_zh"]), str(k["name_en"])) for k in data["kinds"]}


def limit_days(ref: Reference) -> int:
    """The catalogue's limit of a supervision lead, in working days."""
    item = ref.services.get(rules.SERVICE_CODE)
    return item.time_limit_days if item else rules.DEFAULT_LIMIT_DAYS


# ---------------------------------------------------------------- scoping


def require_reader(actor: Actor) -> None:
    """Roles that may have leads at all: supervisors, and clerks and masters (their own)."""
    if actor.role not in READER_ROLES:
        raise Forbidden(f"the role '{actor.role.value}' has no access to supervision leads")


def visible(actor: Actor) -> ColumnElement[bool]:
    """The leads this actor may see: all of the agency for supervisors, else their own."""
    own = Lead.agency == actor.agency
    if actor.role is Role.SUPERVISOR:
        return own
    if actor.role in (Role.CLERK, Role.STATION_MASTER):
        return and_(own, Lead.raised_by == actor.id)
    return false()


def _lead_id(raw: str | uuid.UUID) -> uuid.UUID:
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound("no such lead") from None


def _load(session: Session, actor: Actor, lead_id: str | uuid.UUID) -> Lead:
    # Every role gets the same NotFound for a lead it may not see: no 403 tells it exists.
    key = _lead_id(lead_id)
    lead = session.scalar(select(Lead).where(visible(actor), Lead.id == key))
    if lead is None or not rules.can_see(actor.role.value, actor.id, lead.raised_by):
        raise NotFound("no such lead")
    return lead


# ---------------------------------------------------------------- presenting


def lead_dict(lead: Lead, ref: Reference, today: date, actor: Actor) -> dict[str, Any]:
    """A lead as the API and the pages show it; the patient's ID number masked."""
    state = LeadState(lead.state)
    names = kinds().get(lead.kind, (lead.kind, lead.kind))
    t = case_rules.timing(
        ref.calendar,
        today=today,
        due_date=lead.due_date,
        paused_remaining=None,
        closed_date=lead.closed_date,
        due_estimated=lead.due_estimated,
    )
    return {
        "id": str(lead.id),
        "station_code": lead.station_code,
        "station_name": ref.unit_names.get(lead.station_code, lead.station_code),
        "hospital": lead.hospital,
        "kind": lead.kind,
        "kind_label": names[0],
        "kind_label_en": names[1],
        "urgency": lead.urgency,
        "urgency_label": rules.URGENCY_LABELS_ZH.get(Urgency(lead.urgency), lead.urgency),
        "description": lead.description,
        "patient_id_number": people.mask_id(lead.patient_id_number)
        if lead.patient_id_number
        else None,
        "state": state.value,
        "state_label": rules.STATE_LABELS_ZH[state],
        "state_label_en": rules.STATE_LABELS_EN[state],
        "actions_taken": lead.actions_taken,
        "amount_recovered_fen": lead.amount_recovered_fen,
        "amount_recovered": rules.format_fen(lead.amount_recovered_fen)
        if lead.amount_recovered_fen is not None
        else None,
        "raised_by": lead.raised_by_name,
        "mine": lead.raised_by == actor.id,
        "raised_at": lead.raised_at.isoformat(),
        "raised_date": lead.raised_date.isoformat(),
        "due_date": lead.due_date.isoformat(),
        "due_estimated": t.estimated,
        "remaining_working_days": t.remaining_days,
        "light": t.light.value,
        "clock": t.clock.value,
        "overdue": t.light is case_rules.Light.RED and t.clock is not case_rules.Clock.STOPPED,
        "closed_date": lead.closed_date.isoformat() if lead.closed_date else None,
        "version": lead.version,
        "allowed_actions": [a.value for a in rules.actions_for(actor.role.value, state)],
        "may_add": rules.may_add(actor.role.value, actor.id, lead.raised_by, state),
    }


def event_dict(event: LeadEvent) -> dict[str, Any]:
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


def file_dict(lead: Lead, info: AttachmentInfo) -> dict[str, Any]:
    """One evidence file, with the URL that serves it after the access check."""
    return {
        "id": str(info.id),
        "filename": info.filename,
        "content_type": info.content_type,
        "size": info.size,
        "created_at": info.created_at.isoformat(),
        "url": f"/api/v1/leads/{lead.id}/attachments/{info.id}",
    }


# ---------------------------------------------------------------- writing helpers


def _audit(session: Session, actor: Actor, action: str, object_id: str, **detail: Any) -> None:
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"lead.{action}",
        object_type=OWNER,
        object_id=object_id,
        ip=actor.ip,
        detail=detail,
    )


def _event(
    session: Session,
    lead: Lead,
    actor: Actor,
    *,
    at: datetime,
    action: str,
    from_state: str | None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> LeadEvent:
    last = session.scalar(select(func.max(LeadEvent.seq)).where(LeadEvent.lead_id == lead.id))
    event = LeadEvent(
        agency=lead.agency,
        lead_id=lead.id,
        seq=int(last or 0) + 1,
        at=at,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        actor_role=actor.role.value,
        action=action,
        from_state=from_state,
        to_state=lead.state,
        note=note,
        detail=detail or {},
    )
    session.add(event)
    return event


def _commit(uow: UnitOfWork, runtime: Runtime, lead_id: uuid.UUID) -> None:
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.get(Lead, lead_id)
        raise Conflict(
            "the lead changed while you were working on it",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None


# ---------------------------------------------------------------- use cases: writing


def raise_lead(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    request: LeadIn,
    evidence: Sequence[tuple[str | None, str | None, bytes]] = (),
) -> Lead:
    """Raise a lead at one's hospital station, with its evidence files (filename, type, bytes).

    The lead and every file are stored together or not at all.
    """
    session = uow.session
    ref = runtime.reference(session)
    if not rules.may_raise(actor.role.value, ref.units.get(actor.unit or "")):
        raise Forbidden("only the staff of a hospital station raise supervision leads")
    errors: list[FieldError] = []
    if request.kind not in kinds():
        errors.append(FieldError("kind", f"unknown kind '{request.kind}'", "请选择线索类别"))
    if request.urgency not in {u.value for u in Urgency}:
        errors.append(FieldError("urgency", "normal or urgent", "请选择紧急程度"))
    if not request.description:
        errors.append(FieldError("description", "describe what was seen", "请填写线索描述"))
    id_number: str | None = None
    now = runtime.now()
    today = runtime.local_date(now)
    if request.patient_id_number:
        try:
            id_number = people.parse_id_number(request.patient_id_number, today=today).value
        except people.InvalidInput as exc:
            errors.append(FieldError("patient_id_number", exc.message, exc.message_zh))
    if errors:
        raise ValidationFailed(errors)
    station = str(actor.unit)
    due = rules.due_date(ref.calendar, today, limit_days(ref))
    lead = Lead(
        id=uuid.uuid4(),
        agency=actor.agency,
        station_code=station,
        hospital=rules.hospital_of(ref.unit_names.get(station, station)),
        kind=request.kind,
        urgency=request.urgency,
        description=request.description,
        patient_id_number=id_number,
        patient_id_tail=id_number[-4:] if id_number else None,
        state=rules.INITIAL.value,
        raised_by=actor.id,
        raised_by_name=actor.display_name or actor.username,
        raised_at=now,
        raised_date=today,
        due_date=due.date,
        due_estimated=due.estimated,
        updated_at=now,
    )
    session.add(lead)
    session.flush()
    _event(session, lead, actor, at=now, action="raise", from_state=None)
    _audit(session, actor, "raise", str(lead.id), station=station, kind=lead.kind)
    for filename, content_type, data in evidence:
        att = attachments.store(
            session,
            agency=lead.agency,
            owner_type=OWNER,
            owner_id=str(lead.id),
            filename=filename,
            content_type=content_type,
            data=data,
            actor=actor,
        )
        _event(
            session,
            lead,
            actor,
            at=now,
            action="evidence",
            from_state=lead.state,
            detail={"attachment": str(att.id), "filename": att.filename},
        )
    uow.commit()
    return lead


def act(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, lead_id: str, request: LeadActionIn
) -> Lead:
    """A supervisor's step in the lifecycle, at the version they saw (409 if stale)."""
    session = uow.session
    lead = _load(session, actor, lead_id)
    try:
        action = Action(request.action)
    except ValueError:
        raise ValidationFailed.single(
            "action", f"unknown action '{request.action}'", "未知的操作"
        ) from None
    if request.version != lead.version:
        raise Conflict(
            f"the lead changed (now version {lead.version}, state {lead.state})",
            current_version=lead.version,
            current_state=lead.state,
        )
    now = runtime.now()
    decision = rules.decide(
        LeadState(lead.state),
        rules.Command(
            action=action,
            note=request.note,
            actions_taken=request.actions_taken,
            amount_recovered=request.amount_recovered,
        ),
        role=actor.role.value,
        today=runtime.local_date(now),
    )
    lead.state = decision.to_state.value
    for column, value in decision.changes.items():
        setattr(lead, column, value)
    lead.updated_at = now
    _event(
        session,
        lead,
        actor,
        at=now,
        action=action.value,
        from_state=decision.from_state.value,
        note=decision.note,
        detail=decision.detail,
    )
    _audit(
        session,
        actor,
        action.value,
        str(lead.id),
        from_state=decision.from_state.value,
        to_state=decision.to_state.value,
        **decision.detail,
    )
    _commit(uow, runtime, lead.id)
    return lead


def _open_for_adding(session: Session, actor: Actor, lead_id: str) -> Lead:
    lead = _load(session, actor, lead_id)
    if not rules.may_add(actor.role.value, actor.id, lead.raised_by, LeadState(lead.state)):
        raise ValidationFailed.single(
            "state", "the lead is closed: nothing can be added", "线索已办结，不能再补充"
        )
    return lead


def add_note(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, lead_id: str, request: LeadNoteIn
) -> Lead:
    """Add a note to an open lead (its author or a supervisor)."""
    session = uow.session
    lead = _open_for_adding(session, actor, lead_id)
    if not request.note:
        raise ValidationFailed.single("note", "the note is empty", "请填写补充说明")
    now = runtime.now()
    lead.updated_at = now
    _event(session, lead, actor, at=now, action="note", from_state=lead.state, note=request.note)
    _audit(session, actor, "note", str(lead.id))
    _commit(uow, runtime, lead.id)
    return lead


def add_evidence(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    lead_id: str,
    filename: str | None,
    content_type: str | None,
    data: bytes,
) -> Attachment:
    """Attach one evidence file (JPEG, PNG or PDF) to an open lead."""
    session = uow.session
    lead = _open_for_adding(session, actor, lead_id)
    att = attachments.store(
        session,
        agency=lead.agency,
        owner_type=OWNER,
        owner_id=str(lead.id),
        filename=filename,
        content_type=content_type,
        data=data,
        actor=actor,
    )
    now = runtime.now()
    lead.updated_at = now
    _event(
        session,
        lead,
        actor,
        at=now,
        action="evidence",
        from_state=lead.state,
        detail={"attachment": str(att.id), "filename": att.filename},
    )
    _commit(uow, runtime, lead.id)
    return att


# ---------------------------------------------------------------- use cases: reading (audited)


def check_filter(f: LeadFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.state and f.state not in {s.value for s in LeadState}:
        errors.append(FieldError("state", f"unknown state '{f.state}'", "未知的状态"))
    if f.kind and f.kind not in kinds():
        errors.append(FieldError("kind", f"unknown kind '{f.kind}'", "未知的线索类别"))
    if f.urgency and f.urgency not in {u.value for u in Urgency}:
        errors.append(FieldError("urgency", f"unknown urgency '{f.urgency}'", "未知的紧急程度"))
    if errors:
        raise ValidationFailed(errors)


def list_leads(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: LeadFilter,
    limit: int = PAGE_SIZE,
    cursor: str | None = None,
) -> tuple[list[Lead], str | None]:
    """A page of the leads the actor may see, newest first; the read is audited."""
    require_reader(actor)
    check_filter(filters)
    limit = max(1, min(limit, MAX_PAGE))
    secret = runtime.settings.secret_key
    stmt = select(Lead).where(visible(actor))
    if filters.state:
        stmt = stmt.where(Lead.state == filters.state)
    if filters.kind:
        stmt = stmt.where(Lead.kind == filters.kind)
    if filters.urgency:
        stmt = stmt.where(Lead.urgency == filters.urgency)
    stmt = stmt.where(Lead.raised_by == actor.id if filters.mine else true())
    if cursor:
        at, ident = _cursor_key(decode_cursor(cursor, "leads", secret))
        stmt = stmt.where(or_(Lead.raised_at < at, and_(Lead.raised_at == at, Lead.id < ident)))
    stmt = stmt.order_by(Lead.raised_at.desc(), Lead.id.desc()).limit(limit + 1)
    session = uow.session
    rows = list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor("leads", [last.raised_at.isoformat(), str(last.id)], secret)
    _audit(
        session,
        actor,
        "list",
        "*",
        filters={k: v for k, v in filters.__dict__.items() if v},
        leads=[str(r.id) for r in rows],
    )
    uow.commit()
    return rows, next_cursor


def _cursor_key(values: list[str]) -> tuple[datetime, uuid.UUID]:
    try:
        at = datetime.fromisoformat(values[0])
        if at.tzinfo is None:
            raise ValueError
        return at, uuid.UUID(values[1])
    except (ValueError, IndexError):
        raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None


def read_lead(uow: UnitOfWork, *, actor: Actor, lead_id: str) -> LeadView:
    """One lead with its timeline and evidence (NotFound unless visible); the read is audited."""
    session = uow.session
    lead = _load(session, actor, lead_id)
    events = list(
        session.scalars(
            select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.seq)
        )
    )
    files = attachments.list_for(
        session, agency=lead.agency, owner_type=OWNER, owner_id=str(lead.id)
    )
    _audit(session, actor, "read", str(lead.id))
    uow.commit()
    return LeadView(lead, events, files)


def open_evidence(uow: UnitOfWork, *, actor: Actor, lead_id: str, attachment_id: str) -> Attachment:
    """One evidence file of a visible lead (NotFound otherwise); the download is audited."""
    session = uow.session
    lead = _load(session, actor, lead_id)
    att = attachments.load(
        session,
        agency=lead.agency,
        attachment_id=attachment_id,
        owner_type=OWNER,
        owner_id=str(lead.id),
    )
    _audit(session, actor, "read_attachment", str(lead.id), attachment=str(att.id))
    uow.commit()
    return att


def reveal_patient_id(uow: UnitOfWork, *, actor: Actor, lead_id: str) -> str:
    """The patient's full ID number, for those who see the lead; every read is audited."""
    session = uow.session
    lead = _load(session, actor, lead_id)
    if not lead.patient_id_number:
        raise NotFound("this lead names no patient")
    _audit(session, actor, "read_id_number", str(lead.id))
    uow.commit()
    return lead.patient_id_number
