"""Use cases of the filing registry: file, change, cancel, read, look up, expire, export.

Filing on the spot is one transaction: a ``remote_care_filing`` case is opened at the
clerk's station and completed at once through the case engine (``cases.system``), the filing
record is written with a link to that case, and audit records are added; it commits once.
A change or a cancellation does the same and leaves a new record linked to the old one.

Who may: clerks and station masters of a station kind that may accept *and* complete the
item (the catalogue says which) file, change and cancel; they read the filings made at their
station, and any person's filings when they type that person's full ID number (an audited
lookup). Bureau officers and supervisors read the whole agency and export the registry.
Auditors and admins see nothing (三员分立).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import AGENCY_ROLES, STATION_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.audit.models import AuditRecord
from yibao.cases import system as case_system
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.cases.lifecycle import Action as CaseAction
from yibao.cases.models import Case, CaseEvent
from yibao.db import UnitOfWork
from yibao.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.filings import divisions, rules
from yibao.filings.models import Filing
from yibao.filings.rules import Action, Basis, Kind, State
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.sealing import blind
from yibao.text import has_control

SERVICE_CODE = "remote_care_filing"
FILERS: frozenset[Role] = frozenset({Role.CLERK, Role.STATION_MASTER})
EXPORTERS: frozenset[Role] = frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR})
MAX_PAGE = 100
MAX_CHAIN = 50
_CURSOR_KIND = "filings"
_FILING_NO = re.compile(r"BA[0-9]{14}")


# ---------------------------------------------------------------- input shapes


class PersonIn(BaseModel):
    """The insured person."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(max_length=40)
    name: str = Field(max_length=60)
    phone: str = Field(max_length=30)


class TermsIn(BaseModel):
    """Terms of a filing (shared by a new filing and a change)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str = Field(max_length=30, description=" | ".join(k.value for k in Kind))
    basis: str = Field(max_length=20, description="proof | commitment")
    documents: list[str] = Field(default_factory=list, max_length=20)
    province: str = Field(max_length=6, description="province division code, e.g. 460000")
    city: str = Field(max_length=6, description="prefecture-level city code, e.g. 460200")
    start_date: date | None = Field(default=None, description="default: today (or admission)")
    end_date: date | None = Field(default=None, description="temporary only; default 6 months")
    admission_date: date | None = Field(default=None, description="already in hospital since")
    settled: bool = Field(default=False, description="the stay was settled at discharge")
    note: str | None = Field(default=None, max_length=500)


class FilingIn(TermsIn):
    """A new filing for a person."""

    person: PersonIn


class ChangeIn(TermsIn):
    """New terms replacing an active filing, at the version the clerk saw."""

    version: int = Field(ge=1)
    reason: str = Field(max_length=500)
    id_number: str | None = Field(
        default=None, max_length=40, description="the person's full ID (filed elsewhere)"
    )


class CancelIn(BaseModel):
    """The cancellation of an active filing, with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    reason: str = Field(max_length=500)
    id_number: str | None = Field(default=None, max_length=40)


@dataclass(frozen=True)
class FilingFilter:
    """Filters of the registry; all optional."""

    state: str | None = None
    kind: str | None = None
    province: str | None = None
    station: str | None = None
    expiring: bool = False  # active, last day within 30 days


# ---------------------------------------------------------------- scoping


def person_key(agency: str, id_number: str) -> str:
    """What ``filings.person_key`` digests for a person (the number itself is sealed at rest).

    The column type turns it into the node's keyed HMAC when it is stored or compared
    (yibao.sealing.types.BlindIndex), so it never reaches the database in clear.
    """
    return blind.person_input(agency, id_number)


def require_reader(actor: Actor) -> None:
    """Refuse roles that see no person data (auditor, admin)."""
    if actor.role not in STATION_ROLES | AGENCY_ROLES:
        raise Forbidden(f"the role '{actor.role.value}' has no access to filings")


def visible(actor: Actor) -> ColumnElement[bool]:
    """Filings the actor may list: made at their station, or the whole agency."""
    own = Filing.agency == actor.agency
    if actor.role in AGENCY_ROLES:
        return own
    if actor.role in STATION_ROLES and actor.unit:
        return and_(own, Filing.station_code == actor.unit)
    return and_(own, false())


def may_file(actor: Actor, ref: Reference) -> bool:
    """Whether the actor's station may take and complete a filing on the spot."""
    svc = ref.services.get(SERVICE_CODE)
    kind = ref.units.get(actor.unit or "")
    return (
        actor.role in FILERS
        and svc is not None
        and kind is not None
        and kind in svc.accept_kinds
        and kind in svc.complete_kinds
    )


def _require_filer(runtime: Runtime, actor: Actor) -> None:
    if runtime.field_hook is not None:
        raise Forbidden(
            "filings are made at the central node: on a field laptop, take the 备案 as an "
            "ordinary case (it syncs) and record the filing once back online"
        )
    if not may_file(actor, runtime.reference()):
        raise Forbidden("only clerks of a station that may complete 异地就医备案 file one")


def _parse_id(raw: str, today: date, field: str = "person.id_number") -> people.IdNumber:
    try:
        return people.parse_id_number(raw, today=today)
    except people.InvalidInput as exc:
        raise ValidationFailed.single(field, exc.message, exc.message_zh) from None


def _load(
    session: Session,
    actor: Actor,
    filing_no: str,
    *,
    id_number: str | None = None,
    for_update: bool = False,
) -> Filing:
    require_reader(actor)
    if not _FILING_NO.fullmatch(filing_no):
        raise NotFound(f"filing {filing_no[:30]!r} not found")
    scope = visible(actor)
    if id_number:
        # The person is at the window with the ID card: their filings made elsewhere too.
        key = person_key(actor.agency, id_number.strip())
        scope = or_(scope, and_(Filing.agency == actor.agency, Filing.person_key == key))
    stmt = select(Filing).where(scope, Filing.filing_no == filing_no)
    if for_update:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"filing {filing_no} not found")
    return found


# ---------------------------------------------------------------- writing


def _held(session: Session, agency: str, key: str) -> list[rules.Held]:
    return [
        rules.Held(
            filing_no=f.filing_no,
            basis=Basis(f.basis),
            state=State(f.state),
            start_date=f.start_date,
            end_date=f.end_date,
        )
        for f in session.scalars(
            select(Filing).where(
                Filing.agency == agency,
                Filing.person_key == key,
                Filing.state == State.ACTIVE.value,
            )
        )
    ]


def _rules_request(body: TermsIn) -> rules.Request:
    return rules.Request(
        kind=body.kind,
        basis=body.basis,
        province=body.province,
        city=body.city,
        documents=tuple(body.documents),
        start_date=body.start_date,
        end_date=body.end_date,
        admission_date=body.admission_date,
        settled=body.settled,
    )


def _check(
    runtime: Runtime,
    body: TermsIn,
    *,
    held: list[rules.Held],
    replacing: str | None,
    extra: list[FieldError],
) -> rules.Terms:
    table = divisions.load()
    if has_control(body.note):
        extra = [
            *extra,
            FieldError("note", "control characters are not allowed", "不能包含控制字符"),
        ]
    try:
        terms = rules.check_terms(
            _rules_request(body),
            today=runtime.today(),
            divisions=table.by_province,
            home=rules.home_prefix(runtime.agency),
            held=held,
            replacing=replacing,
        )
    except ValidationFailed as exc:
        raise ValidationFailed([*extra, *exc.errors]) from None
    if extra:
        raise ValidationFailed(extra)
    return terms


def _new_filing_no(today: date) -> str:
    return f"BA{today:%Y%m%d}{secrets.randbelow(10**6):06d}"


def _open_completed_case(
    session: Session,
    runtime: Runtime,
    actor: Actor,
    *,
    id_number: str,
    name: str,
    phone: str,
    basis: Basis,
    note: str,
) -> Case:
    """A ``remote_care_filing`` case opened and completed at the actor's station, by the actor.

    The case engine (``cases.system``) opens and completes it through the lifecycle table; the
    events and the audit record it writes are attributed to the clerk, who did the work.
    """
    unit = actor.unit or ""
    case = case_system.open_case(
        session,
        runtime=runtime,
        service_code=SERVICE_CODE,
        unit=unit,
        channel="window",
        id_number=id_number,
        name=name,
        phone=phone,
        actor_name=actor.display_name or actor.username,
        note=note,
    )
    case.created_by = actor.id
    case.materials_received = [
        "id_card",
        "commitment_letter" if basis is Basis.COMMITMENT else "remote_care_proof",
    ]
    for pending in list(session.new):
        if isinstance(pending, AuditRecord) and pending.object_id == case.case_no:
            pending.actor_id, pending.actor_name, pending.ip = actor.id, actor.username, actor.ip
    done = case_system.system_act(
        session,
        runtime=runtime,
        case_no=case.case_no,
        actions=[CaseAction.COMPLETE],
        actor_name=actor.display_name or actor.username,
    )
    if done != [CaseAction.COMPLETE.value]:
        raise Forbidden("this station may not complete 异地就医备案 on the spot")
    for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)):
        event.actor_id, event.actor_role = actor.id, actor.role.value
    _audit(session, actor, "case.complete", "case", case.case_no, {"from": "received"})
    return case


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=actor.ip,
        detail=detail,
    )


def _record(
    runtime: Runtime,
    actor: Actor,
    *,
    case: Case,
    action: Action,
    terms: rules.Terms,
    id_number: str,
    name: str,
    phone: str,
    previous: Filing | None,
    reason: str | None,
    note: str | None,
    request_key: str | None,
) -> Filing:
    table = divisions.load()
    now = runtime.now()
    return Filing(
        id=uuid.uuid4(),
        agency=actor.agency,
        filing_no=_new_filing_no(runtime.local_date(now)),
        action=action.value,
        previous_id=previous.id if previous else None,
        person_id_number=id_number,
        person_id_tail=id_number[-4:],
        person_key=person_key(actor.agency, id_number),
        person_name=name,
        person_phone=phone,
        kind=terms.kind.value,
        basis=terms.basis.value,
        documents=list(terms.documents),
        province_code=terms.province,
        province_name=table.province_name(terms.province),
        city_code=terms.city,
        city_name=table.city_name(terms.city),
        division_release=table.release,
        start_date=terms.start_date,
        end_date=terms.end_date,
        admission_date=terms.admission_date,
        state=rules.BORN[action].value,
        reason=reason,
        note=note,
        case_id=case.id,
        case_no=case.case_no,
        station_code=actor.unit or "",
        request_key=request_key,
        created_by=actor.id,
        created_by_name=actor.display_name or actor.username,
        created_at=now,
        updated_at=now,
        ended_date=runtime.local_date(now) if action is Action.CANCEL else None,
    )


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 64 or not key.isprintable():
        raise ValidationFailed.single(
            "Idempotency-Key", "1–64 printable characters", "幂等键须为1–64个可打印字符"
        )
    return key


def _replay(session: Session, actor: Actor, key: str | None) -> Filing | None:
    if key is None:
        return None
    return session.scalar(
        select(Filing).where(
            Filing.agency == actor.agency,
            Filing.created_by == actor.id,
            Filing.request_key == key,
        )
    )


def create(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    request: FilingIn,
    request_key: str | None = None,
) -> Filing:
    """File on the spot: open and complete the case, record the filing; one commit."""
    _require_filer(runtime, actor)
    key = _check_key(request_key)
    today = runtime.today()
    extra: list[FieldError] = []
    person: people.IdNumber | None = None
    name = phone = ""
    try:
        person = people.parse_id_number(request.person.id_number, today=today)
    except people.InvalidInput as exc:
        extra.append(FieldError("person.id_number", exc.message, exc.message_zh))
    try:
        name = people.normalize_name(request.person.name)
    except people.InvalidInput as exc:
        extra.append(FieldError("person.name", exc.message, exc.message_zh))
    try:
        phone = people.normalize_phone(request.person.phone)
    except people.InvalidInput as exc:
        extra.append(FieldError("person.phone", exc.message, exc.message_zh))
    for _attempt in range(5):
        session = uow.session
        replay = _replay(session, actor, key)
        if replay is not None:
            uow.commit()
            return replay
        held = (
            _held(session, actor.agency, person_key(actor.agency, person.value)) if person else []
        )
        terms = _check(runtime, request, held=held, replacing=None, extra=extra)
        assert person is not None
        case = _open_completed_case(
            session,
            runtime,
            actor,
            id_number=person.value,
            name=name,
            phone=phone,
            basis=terms.basis,
            note=f"{rules.KIND_LABELS_ZH[terms.kind]} · {divisions.load().city_name(terms.city)}",
        )
        filing = _record(
            runtime,
            actor,
            case=case,
            action=Action.FILE,
            terms=terms,
            id_number=person.value,
            name=name,
            phone=phone,
            previous=None,
            reason=None,
            note=request.note or None,
            request_key=key,
        )
        session.add(filing)
        _audit(
            session,
            actor,
            "filing.create",
            "filing",
            filing.filing_no,
            {"case": case.case_no, "kind": filing.kind, "city": filing.city_code},
        )
        try:
            uow.commit()
        except IntegrityError:
            # A number drawn twice, or the same form sent twice at once: look again.
            uow.rollback()
            continue
        return filing
    raise Conflict("could not allocate a filing number; try again")


def _successor(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    filing_no: str,
    action: Action,
    version: int,
    reason: str,
    id_number: str | None,
    terms_in: TermsIn | None,
) -> Filing:
    """A change or a cancellation: the old record moves on, a new one links back to it."""
    _require_filer(runtime, actor)
    session = uow.session
    old = _load(session, actor, filing_no, id_number=id_number)
    today = runtime.today()
    extra: list[FieldError] = []
    reason = reason.strip()
    if not reason:
        extra.append(FieldError("reason", "a reason is required", "请填写原因"))
    elif has_control(reason):
        extra.append(FieldError("reason", "control characters are not allowed", "不能包含控制字符"))
    if version != old.version:
        raise Conflict(
            f"the filing changed (now version {old.version}, state {old.state})",
            current_version=old.version,
            current_state=old.state,
        )
    to_state = rules.decide(
        rules.Snapshot(
            filing_no=old.filing_no,
            state=State(old.state),
            basis=Basis(old.basis),
            start_date=old.start_date,
            end_date=old.end_date,
        ),
        action,
        today=today,
    )
    if terms_in is not None:
        held = _held(session, actor.agency, old.person_key)
        terms = _check(runtime, terms_in, held=held, replacing=old.filing_no, extra=extra)
        note = terms_in.note or None
    else:
        if extra:
            raise ValidationFailed(extra)
        terms = rules.Terms(
            kind=Kind(old.kind),
            basis=Basis(old.basis),
            province=old.province_code,
            city=old.city_code,
            documents=tuple(old.documents or ()),
            start_date=old.start_date,
            end_date=old.end_date,
            admission_date=old.admission_date,
            after_the_fact=False,
        )
        note = None
    case = _open_completed_case(
        session,
        runtime,
        actor,
        id_number=old.person_id_number,
        name=old.person_name,
        phone=old.person_phone,
        basis=terms.basis,
        note=f"{rules.ACTION_LABELS_ZH[action]} {old.filing_no}",
    )
    new = _record(
        runtime,
        actor,
        case=case,
        action=action,
        terms=terms,
        id_number=old.person_id_number,
        name=old.person_name,
        phone=old.person_phone,
        previous=old,
        reason=reason,
        note=note,
        request_key=None,
    )
    old.state = to_state.value
    old.ended_date = today
    old.updated_at = runtime.now()
    session.add(new)
    _audit(
        session,
        actor,
        f"filing.{action.value}",
        "filing",
        old.filing_no,
        {"from": State.ACTIVE.value, "to": to_state.value, "new": new.filing_no},
    )
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.scalar(select(Filing).where(Filing.id == old.id))
        raise Conflict(
            "the filing changed while you were acting",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None
    return new


def change(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, filing_no: str, request: ChangeIn
) -> Filing:
    """Replace an active filing's terms with a new record; the old one becomes ``changed``."""
    return _successor(
        uow,
        runtime=runtime,
        actor=actor,
        filing_no=filing_no,
        action=Action.CHANGE,
        version=request.version,
        reason=request.reason,
        id_number=request.id_number,
        terms_in=request,
    )


def cancel(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, filing_no: str, request: CancelIn
) -> Filing:
    """Cancel an active filing: a cancellation record; the old one becomes ``cancelled``."""
    return _successor(
        uow,
        runtime=runtime,
        actor=actor,
        filing_no=filing_no,
        action=Action.CANCEL,
        version=request.version,
        reason=request.reason,
        id_number=request.id_number,
        terms_in=None,
    )


# ---------------------------------------------------------------- the daily job


@dataclass(frozen=True)
class ExpiryReport:
    """What the daily job did, and what ends soon."""

    expired: list[Filing]
    expiring: list[Filing]


def expire(uow: UnitOfWork, *, runtime: Runtime, days: int = rules.EXPIRING_DAYS) -> ExpiryReport:
    """Mark active filings past their end date expired; list those ending within ``days``."""
    session = uow.session
    today = runtime.today()
    now = runtime.now()
    due = list(
        session.scalars(
            select(Filing)
            .where(
                Filing.agency == runtime.agency,
                Filing.state == State.ACTIVE.value,
                Filing.end_date < today,
            )
            .order_by(Filing.end_date, Filing.filing_no)
            .with_for_update()
        )
    )
    for f in due:
        snap = rules.Snapshot(f.filing_no, State(f.state), Basis(f.basis), f.start_date, f.end_date)
        f.state = rules.decide(snap, Action.EXPIRE, today=today).value
        f.ended_date = today
        f.updated_at = now
        audit.record(
            session,
            agency=runtime.agency,
            actor_id=None,
            actor_name="system",
            action="filing.expire",
            object_type="filing",
            object_id=f.filing_no,
            detail={"end_date": f.end_date.isoformat() if f.end_date else None},
        )
    expiring = list(
        session.scalars(
            select(Filing)
            .where(
                Filing.agency == runtime.agency,
                Filing.state == State.ACTIVE.value,
                Filing.end_date >= today,
                Filing.end_date <= today + timedelta(days=days),
            )
            .order_by(Filing.end_date, Filing.filing_no)
        )
    )
    uow.commit()
    return ExpiryReport(expired=due, expiring=expiring)


# ---------------------------------------------------------------- reading


def get(session: Session, *, actor: Actor, filing_no: str, id_number: str | None = None) -> Filing:
    """One filing the actor may see (404 otherwise, as if it did not exist)."""
    return _load(session, actor, filing_no, id_number=id_number)


def chain(session: Session, filing: Filing) -> list[Filing]:
    """The records linked to ``filing``, oldest first (the filing, its changes, its end)."""
    back: list[Filing] = [filing]
    current = filing
    while current.previous_id is not None and len(back) < MAX_CHAIN:
        prev = session.get(Filing, current.previous_id)
        if prev is None or prev.agency != filing.agency:
            break
        back.append(prev)
        current = prev
    out = list(reversed(back))
    current = filing
    while len(out) < MAX_CHAIN:
        nxt = session.scalar(
            select(Filing).where(Filing.agency == filing.agency, Filing.previous_id == current.id)
        )
        if nxt is None:
            break
        out.append(nxt)
        current = nxt
    return out


def check_filters(ref: Reference, f: FilingFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.state and f.state not in {s.value for s in State}:
        errors.append(FieldError("state", f"unknown state '{f.state}'", "未知的状态"))
    if f.kind and f.kind not in {k.value for k in Kind}:
        errors.append(FieldError("kind", f"unknown kind '{f.kind}'", "未知的备案类型"))
    if f.province and f.province not in divisions.load().by_province:
        errors.append(FieldError("province", "unknown province code", "未知的省级行政区划代码"))
    if f.station and f.station.upper() not in ref.units:
        errors.append(FieldError("station", f"unknown station '{f.station}'", "未知的服务站"))
    if errors:
        raise ValidationFailed(errors)


def list_filings(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: FilingFilter,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Filing], str | None]:
    """A page of the registry the actor may see, newest first, with the next page's cursor."""
    require_reader(actor)
    check_filters(runtime.reference(), filters)
    today = runtime.today()
    stmt = select(Filing).where(visible(actor))
    if filters.state:
        stmt = stmt.where(Filing.state == filters.state)
    if filters.kind:
        stmt = stmt.where(Filing.kind == filters.kind)
    if filters.province:
        stmt = stmt.where(Filing.province_code == filters.province)
    if filters.station:
        stmt = stmt.where(Filing.station_code == filters.station.upper())
    if filters.expiring:
        stmt = stmt.where(
            Filing.state == State.ACTIVE.value,
            Filing.end_date >= today,
            Filing.end_date <= today + timedelta(days=rules.EXPIRING_DAYS),
        )
    secret = runtime.settings.secret_key
    if cursor:
        values = decode_cursor(cursor, _CURSOR_KIND, secret)
        try:
            at = datetime.fromisoformat(values[0])
            ident = uuid.UUID(values[1])
            if at.tzinfo is None:
                raise ValueError
        except (ValueError, IndexError):
            raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None
        stmt = stmt.where(
            or_(Filing.created_at < at, and_(Filing.created_at == at, Filing.id < ident))
        )
    stmt = stmt.order_by(Filing.created_at.desc(), Filing.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            _CURSOR_KIND, [last.created_at.isoformat(), str(last.id)], secret
        )
    return rows, next_cursor


def for_person(session: Session, *, agency: str, id_number: str) -> list[Filing]:
    """Every record of one person, newest first (the caller decides who may see them)."""
    key = person_key(agency, id_number)
    return list(
        session.scalars(
            select(Filing)
            .where(Filing.agency == agency, Filing.person_key == key)
            .order_by(Filing.created_at.desc(), Filing.id.desc())
            .limit(MAX_PAGE)
        )
    )


def lookup(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, id_number: str) -> list[Filing]:
    """A person's filings by their full ID number (any station's); the read is audited."""
    require_reader(actor)
    person = _parse_id(id_number, runtime.today(), field="id_number")
    rows = for_person(uow.session, agency=actor.agency, id_number=person.value)
    _audit(
        uow.session,
        actor,
        "filing.lookup",
        "person",
        person.masked,
        {"found": len(rows)},
    )
    uow.commit()
    return rows


def count_expiring(session: Session, *, runtime: Runtime, actor: Actor) -> int:
    """How many visible active filings end within 30 days (the registry's banner)."""
    from sqlalchemy import func

    today = runtime.today()
    return int(
        session.scalar(
            select(func.count())
            .select_from(Filing)
            .where(
                visible(actor),
                Filing.state == State.ACTIVE.value,
                Filing.end_date >= today,
                Filing.end_date <= today + timedelta(days=rules.EXPIRING_DAYS),
            )
        )
        or 0
    )


# ---------------------------------------------------------------- presenting


def filing_dict(
    f: Filing, ref: Reference, today: date, actor: Actor | None = None
) -> dict[str, Any]:
    """A filing as the API returns it; the ID number masked."""
    kind, basis, state = Kind(f.kind), Basis(f.basis), State(f.state)
    lock = rules.locked_until(basis, f.start_date)
    out: dict[str, Any] = {
        "filing_no": f.filing_no,
        "action": f.action,
        "action_label": rules.ACTION_LABELS_ZH[Action(f.action)],
        "previous_filing_no": None,
        "person": {
            "id_number": people.mask_id(f.person_id_number),
            "name": f.person_name,
            "phone": people.mask_phone(f.person_phone),
        },
        "kind": kind.value,
        "kind_label": rules.KIND_LABELS_ZH[kind],
        "kind_label_en": rules.KIND_LABELS_EN[kind],
        "long_term": kind in rules.LONG_TERM,
        "basis": basis.value,
        "basis_label": rules.BASIS_LABELS_ZH[basis],
        "documents": list(f.documents or []),
        "destination": {
            "province_code": f.province_code,
            "province_name": f.province_name,
            "city_code": f.city_code,
            "city_name": f.city_name,
            "release": f.division_release,
        },
        "start_date": f.start_date.isoformat(),
        "end_date": f.end_date.isoformat() if f.end_date else None,
        "admission_date": f.admission_date.isoformat() if f.admission_date else None,
        "state": state.value,
        "state_label": rules.STATE_LABELS_ZH[state],
        "state_label_en": rules.STATE_LABELS_EN[state],
        "in_force": rules.in_force(state, f.end_date, today),
        "expiring_soon": rules.expires_soon(state, f.end_date, today),
        "locked_until": lock.isoformat() if lock and today < lock else None,
        "reason": f.reason,
        "note": f.note,
        "case_no": f.case_no,
        "station_code": f.station_code,
        "station_name": ref.unit_names.get(f.station_code, f.station_code),
        "created_by": f.created_by_name,
        "created_at": f.created_at.isoformat(),
        "ended_date": f.ended_date.isoformat() if f.ended_date else None,
        "version": f.version,
    }
    if actor is not None:
        allowed = []
        if may_file(actor, ref) and state is State.ACTIVE:
            for action in (Action.CHANGE, Action.CANCEL):
                try:
                    rules.decide(
                        rules.Snapshot(f.filing_no, state, basis, f.start_date, f.end_date),
                        action,
                        today=today,
                    )
                    allowed.append(action.value)
                except DomainError:  # refused now (e.g. locked): not offered
                    continue
        out["allowed_actions"] = allowed
    return out


def with_previous(session: Session, rows: list[Filing]) -> dict[uuid.UUID, str]:
    """filing id → the filing number of the record it replaced (for a list)."""
    ids = {r.previous_id for r in rows if r.previous_id}
    if not ids:
        return {}
    found = {f.id: f.filing_no for f in session.scalars(select(Filing).where(Filing.id.in_(ids)))}
    return {r.id: found[r.previous_id] for r in rows if r.previous_id in found}


# ---------------------------------------------------------------- export


EXPORT_HEADER = (
    "备案编号",
    "身份证号码",
    "姓名",
    "联系电话",
    "备案类型",
    "备案类型代码",
    "就医省份代码",
    "就医省份",
    "就医城市代码",
    "就医城市",
    "开始日期",
    "结束日期",
    "备案依据",
    "证明材料",
    "受理服务站",
    "办件编号",
    "备案时间",
)


EXPORT_BATCH = 2000  # rows fetched at a time: the export's memory does not grow with the registry


@dataclass(frozen=True)
class Export:
    """An audited export: how many rows it holds, and the rows, read in batches when iterated."""

    count: int
    rows: Iterator[tuple[Any, ...]]


def export_rows(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, fmt: str) -> Export:
    """The active registry for the settlement system, with full ID numbers; audited.

    The audit record commits first; the rows are then read from a session of their own, in
    batches, as the caller writes them out (a stream), so 100,000 filings cost no more memory
    than 2,000.
    """
    if actor.role not in EXPORTERS:
        raise Forbidden("only the bureau and supervisors export the registry")
    session = uow.session
    today = runtime.today()
    active = and_(
        Filing.agency == actor.agency,
        Filing.state == State.ACTIVE.value,
        or_(Filing.end_date.is_(None), Filing.end_date >= today),
    )
    count = session.scalar(select(func.count()).select_from(Filing).where(active)) or 0
    _audit(
        session,
        actor,
        "filing.export",
        "registry",
        actor.agency,
        {"format": fmt, "rows": count, "full_id_numbers": True},
    )
    uow.commit()
    ref = runtime.reference()
    columns = (
        Filing.filing_no,
        Filing.person_id_number,
        Filing.person_name,
        Filing.person_phone,
        Filing.kind,
        Filing.province_code,
        Filing.province_name,
        Filing.city_code,
        Filing.city_name,
        Filing.start_date,
        Filing.end_date,
        Filing.basis,
        Filing.documents,
        Filing.station_code,
        Filing.case_no,
        Filing.created_at,
    )
    stmt = select(*columns).where(active).order_by(Filing.filing_no)

    def generate() -> Iterator[tuple[Any, ...]]:
        with runtime.db.session() as reader:
            result = reader.execute(stmt.execution_options(yield_per=EXPORT_BATCH))
            for r in result:
                yield (
                    r.filing_no,
                    r.person_id_number,
                    r.person_name,
                    r.person_phone,
                    rules.KIND_LABELS_ZH[Kind(r.kind)],
                    r.kind,
                    r.province_code,
                    r.province_name,
                    r.city_code,
                    r.city_name,
                    r.start_date,
                    r.end_date,
                    rules.BASIS_LABELS_ZH[Basis(r.basis)],
                    "、".join(r.documents or []),
                    ref.unit_names.get(r.station_code, r.station_code),
                    r.case_no,
                    r.created_at.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M"),
                )

    return Export(count, generate())
