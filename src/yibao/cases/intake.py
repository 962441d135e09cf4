"""Taking a case at a station (受理), and completing it in the same step (当场办结).

One transaction: the case, its intake event, the completion event when it is done on the spot,
the idempotency record and the audit records commit together, or nothing does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import Action, ActorRef, Command
from yibao.cases.models import Case, IdempotencyRecord
from yibao.cases.records import new_event as _event
from yibao.cases.records import snapshot
from yibao.cases.schemas import CHANNELS, IntakeIn
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, ValidationFailed
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.visits.models import Visit

MAX_BACKDATE = timedelta(days=90)  # how old an offline capture may be
CLOCK_SKEW = timedelta(minutes=5)  # a laptop clock slightly ahead is not "the future"


@dataclass(frozen=True)
class IntakeResult:
    """The case, and whether this call created it (false: an idempotent replay)."""

    case: Case
    created: bool


def intake(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    request: IntakeIn,
    idempotency_key: str | None = None,
    case_no: str | None = None,
) -> IntakeResult:
    """Take a new case at a station (and complete it, with ``complete_now``); one commit.

    ``case_no``: the number a field laptop already printed for it, kept when it is free."""
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

    wanted = case_no
    for attempt in range(5):
        session = uow.session
        if attempt >= 2:
            wanted = None  # the printed number is taken by another case: draw one
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
            case_no=wanted or runtime.case_no_prefix + _new_case_no(intake_date),
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
        if request.complete_now:
            _complete_on_the_spot(session, ref, actor, case, at=now)
        try:
            uow.commit()
        except IntegrityError:
            # A case number drawn twice, or the same key sent twice at once: look again.
            uow.rollback()
            continue
        return IntakeResult(case, created=True)
    raise Conflict("could not allocate a case number; try again")


def _complete_on_the_spot(
    session: Session, ref: Reference, actor: Actor, case: Case, *, at: datetime
) -> None:
    """当场办结: the new case completes through the lifecycle table, as the clerk's next act.

    The table and the unit rule decide, as for any ``complete``; a case captured offline is
    completed as of its capture date (it was done there and then, on the spot).
    """
    decision = lifecycle.decide(
        snapshot(case, ref),
        Command(action=Action.COMPLETE),
        ActorRef(role=actor.role.value, unit=actor.unit),
        today=case.intake_date,
        calendar=ref.calendar,
        unit_kinds=ref.units,
    )
    for column, value in decision.changes.items():
        setattr(case, column, value)
    case.state = decision.to_state.value
    session.add(
        _event(
            case,
            actor,
            seq=2,
            at=at,
            action=Action.COMPLETE.value,
            from_state=decision.from_state.value,
            to_state=decision.to_state.value,
            detail={**decision.detail, "at_intake": True},
        )
    )
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.complete",
        object_type="case",
        object_id=case.case_no,
        ip=actor.ip,
        detail={
            "from": decision.from_state.value,
            "to": decision.to_state.value,
            "at_intake": True,
        },
    )


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
    if request.complete_now and service is not None and kind is not None and not errors:
        limit = rules.time_limit(service.time_limit_days, service.channel_limits, request.channel)
        if limit != 0:
            errors.append(
                FieldError(
                    "complete_now",
                    "only an item done on the spot (time limit 0) can be completed at intake",
                    "只有即时办结的事项才能当场办结",
                )
            )
        elif not rules.completes_at_intake(limit, kind, service.complete_kinds):
            errors.append(
                FieldError(
                    "complete_now",
                    f"a {kind} station may not complete '{service.code}': take it and forward it",
                    "本服务站不能办结该事项，请受理后转办",
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
    fields = request.model_dump(mode="json")
    if not fields["complete_now"]:
        # Absent and false are the same request, and keys stored before the field existed
        # must still replay.
        del fields["complete_now"]
    body = json.dumps(fields, sort_keys=True, ensure_ascii=False)
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


USUAL_WINDOW = timedelta(days=90)  # "a clerk's most used items": their intakes of the last 90 days


def usual_items(session: Session, *, runtime: Runtime, actor: Actor) -> dict[str, int]:
    """How often this person took each item lately (their own intakes), for the item picker."""
    since = runtime.now() - USUAL_WINDOW
    rows = session.execute(
        select(Case.service_code, func.count(Case.id))
        .where(
            # The station's index bounds the scan (no index on the author: no migration).
            Case.agency == actor.agency,
            Case.intake_station == (actor.unit or ""),
            Case.received_at >= since,
            Case.created_by == actor.id,
        )
        .group_by(Case.service_code)
    )
    return {code: int(n) for code, n in rows}
