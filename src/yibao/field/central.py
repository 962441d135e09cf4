"""The central node's side of field mode: register laptops, hand out the day's bundle, sync.

Sync answers per record. A record is applied in its own transaction and its answer kept under
the record's client-made id, so a record sent again (after a cut connection) gets the same
answer and changes nothing.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.accounts.rules import Actor, Role
from yibao.accounts.service import actor_of
from yibao.audit import service as audit
from yibao.cases import service as cases
from yibao.cases.intake import CLOCK_SKEW, MAX_BACKDATE
from yibao.cases.models import Case, IdempotencyRecord
from yibao.cases.schemas import ActionIn, IntakeIn
from yibao.db import UnitOfWork
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from yibao.field.bundle import bundle
from yibao.field.models import FieldDevice, FieldReceipt
from yibao.runtime import Runtime

__all__ = ["bundle"]  # the day's bundle lives in field/bundle.py; the API still finds it here

DEVICE_TOKEN_DAYS = 30
FIELD_ROLES = (Role.CLERK, Role.STATION_MASTER)
STALE_AFTER = timedelta(days=3)


def field_key(client_id: uuid.UUID | str) -> str:
    """The idempotency key under which a laptop's case is taken centrally."""
    return f"field:{client_id}"


def register_device(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, label: str = ""
) -> tuple[FieldDevice, str]:
    """Register a laptop for a station's team member; returns it and its device token."""
    if actor.role not in FIELD_ROLES or not actor.unit:
        raise Forbidden("field mode is for the clerks and station masters of a station")
    now = runtime.now()
    device = FieldDevice(
        id=uuid.uuid4(),
        agency=runtime.agency,
        user_id=actor.id,
        username=actor.username,
        station_code=actor.unit,
        label=label[:100],
        created_at=now,
    )
    uow.session.add(device)
    audit.record(
        uow.session,
        agency=runtime.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="field.register",
        object_type="device",
        object_id=str(device.id),
        ip=actor.ip,
    )
    uow.commit()
    return device, _device_token(runtime, device, now)


def renew_device(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, device_id: uuid.UUID
) -> tuple[FieldDevice, str]:
    """A fresh 30-day token for one's own laptop (``yibao field refresh``); not if revoked."""
    device = uow.session.scalar(
        select(FieldDevice).where(FieldDevice.agency == runtime.agency, FieldDevice.id == device_id)
    )
    if device is None or device.user_id != actor.id:
        raise NotFound("no such laptop of yours")
    if device.revoked_at is not None:
        raise Forbidden("this laptop was revoked; ask the bureau", revoked=True)
    audit.record(
        uow.session,
        agency=runtime.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="field.renew",
        object_type="device",
        object_id=str(device.id),
        ip=actor.ip,
    )
    uow.commit()
    return device, _device_token(runtime, device, runtime.now())


def _device_token(runtime: Runtime, device: FieldDevice, now: datetime) -> str:
    return jwt.encode(
        {
            "typ": "device",
            "dev": str(device.id),
            "sub": str(device.user_id),
            "agy": runtime.agency,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(days=DEVICE_TOKEN_DAYS)).timestamp()),
        },
        runtime.settings.secret_key,
        algorithm="HS256",
    )


def device_actor(
    session: Session, *, runtime: Runtime, token: str, ip: str | None = None
) -> tuple[Actor, FieldDevice]:
    """The team member and laptop behind a device token; revoked laptops are refused."""
    try:
        claims = jwt.decode(
            token,
            runtime.settings.secret_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "dev", "sub"]},
        )
        device_id, user_id = uuid.UUID(claims["dev"]), int(claims["sub"])
        expired = int(claims["exp"]) <= int(runtime.now().timestamp())
        typ = claims.get("typ")
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise NotAuthenticated("invalid device token") from None
    if expired or typ != "device":
        raise NotAuthenticated("invalid or expired device token")
    device = session.scalar(
        select(FieldDevice).where(FieldDevice.agency == runtime.agency, FieldDevice.id == device_id)
    )
    if device is None or device.user_id != user_id:
        raise NotAuthenticated("unknown device")
    if device.revoked_at is not None:
        raise Forbidden("this laptop was revoked; ask the bureau", revoked=True)
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotAuthenticated("the account is no longer active")
    return actor_of(user, ip=ip), device


def sync(
    runtime: Runtime, *, actor: Actor, device: FieldDevice, records: list[Any]
) -> list[dict[str, Any]]:
    """Apply each record in order, each in its own transaction; one answer per record."""
    results = [_one(runtime, actor, device, r) for r in records]
    with runtime.db.uow() as uow:
        row = uow.session.get(FieldDevice, device.pk)
        if row is not None:
            row.last_sync_at = runtime.now()
            audit.record(
                uow.session,
                agency=runtime.agency,
                actor_id=actor.id,
                actor_name=actor.username,
                action="field.sync",
                object_type="field_device",
                object_id=str(device.id),
                ip=actor.ip,
                detail={
                    "records": len(records),
                    "accepted": sum(1 for r in results if r.get("status") == "accepted"),
                },
            )
        uow.commit()
    return results


def _one(runtime: Runtime, actor: Actor, device: FieldDevice, record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        return {"client_id": None, "status": "refused", "reason": "a record is an object"}
    try:
        client_id = uuid.UUID(str(record.get("client_id")))
    except ValueError:
        return {
            "client_id": record.get("client_id"),
            "status": "refused",
            "reason": "client_id: a UUID is required",
        }
    kind = record.get("kind")
    seen = _stored(runtime, client_id)
    if seen is not None:
        return seen
    receipt = _Receipt(runtime, device, client_id, str(kind)[:10])
    if kind == "case":
        status, case_no, detail = _intake(
            runtime, actor, client_id, record.get("payload"), record.get("local_case_no")
        )
    elif kind == "action":
        status, case_no, detail = _action(runtime, actor, record.get("payload"), receipt)
    elif kind == "response":
        status, case_no, detail = _response(runtime, actor, client_id, record.get("payload"))
    else:
        status, case_no, detail = "refused", None, {"reason": "kind: case, action or response"}
    if receipt.committed:
        return {"client_id": str(client_id), "status": status, "case_no": case_no, **detail}
    # The same record may have raced in from a second sync, whose receipt (written with its
    # effect) is the answer: our own "conflict" would only be the trace of that first apply.
    seen = _stored(runtime, client_id)
    if seen is not None:
        return seen
    with runtime.db.uow() as uow:
        uow.session.add(receipt.row(status, case_no, detail))
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()
            seen = _stored(runtime, client_id)
            if seen is not None:
                return seen
    return {"client_id": str(client_id), "status": status, "case_no": case_no, **detail}


def _stored(runtime: Runtime, client_id: uuid.UUID) -> dict[str, Any] | None:
    """The answer kept for a record, repeated as it was first given."""
    with runtime.db.session() as s:
        seen = s.scalar(
            select(FieldReceipt).where(
                FieldReceipt.agency == runtime.agency, FieldReceipt.client_id == client_id
            )
        )
        if seen is None:
            return None
        return {
            "client_id": str(client_id),
            "status": seen.status,
            "duplicate": True,
            "case_no": seen.case_no,
            **seen.detail,
        }


class _Receipt:
    """A record's receipt, written in the transaction of its effect when it has one."""

    def __init__(
        self, runtime: Runtime, device: FieldDevice, client_id: uuid.UUID, kind: str
    ) -> None:
        self.runtime, self.device, self.client_id, self.kind = runtime, device, client_id, kind
        self.committed = False

    def row(self, status: str, case_no: str | None, detail: dict[str, Any]) -> FieldReceipt:
        """The receipt row of this answer."""
        return FieldReceipt(
            agency=self.runtime.agency,
            client_id=self.client_id,
            device_id=self.device.id,
            kind=self.kind,
            status=status,
            case_no=case_no,
            detail=detail,
            at=self.runtime.now(),
        )

    def with_action(self, session: Session, case_no: str) -> None:
        """Add the accepted receipt to the action's own commit (flushed with it, or neither)."""

        def add(s: Session) -> None:
            s.flush()  # the case's new version and state
            case = s.scalar(
                select(Case).where(Case.agency == self.runtime.agency, Case.case_no == case_no)
            )
            if case is not None:
                s.add(
                    self.row(
                        "accepted", case.case_no, {"version": case.version, "state": case.state}
                    )
                )

        event.listen(session, "before_commit", add)


def _reason(exc: DomainError) -> dict[str, Any]:
    if isinstance(exc, ValidationFailed):
        return {
            "reason": exc.detail,
            "errors": [
                {"field": e.field, "message": e.message, "message_zh": e.message_zh}
                for e in exc.errors
            ],
        }
    return {"reason": exc.detail}


def _intake(
    runtime: Runtime, actor: Actor, client_id: uuid.UUID, payload: Any, local_no: Any
) -> tuple[str, str | None, dict[str, Any]]:
    try:
        request = IntakeIn.model_validate(payload)
    except ValidationError as exc:
        return (
            "refused",
            None,
            {
                "reason": "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
            },
        )
    try:
        with runtime.db.uow() as uow:
            result = cases.intake(
                uow,
                runtime=runtime,
                actor=actor,
                request=request,
                idempotency_key=field_key(client_id),
                case_no=printed_number(runtime, local_no, request),
            )
    except DomainError as exc:
        return "refused", None, _reason(exc)
    return (
        "accepted",
        result.case.case_no,
        {"version": result.case.version, "due_date": result.case.due_date.isoformat()},
    )


def _action(
    runtime: Runtime, actor: Actor, payload: Any, receipt: _Receipt
) -> tuple[str, str | None, dict[str, Any]]:
    if not isinstance(payload, dict):
        return "refused", None, {"reason": "payload: an object"}
    case_no = payload.get("case_no")
    if not case_no and payload.get("case_client_id"):
        case_no = _case_of_client(runtime, actor, str(payload["case_client_id"]))
        if case_no is None:
            return "refused", None, {"reason": "the case of this action was not synced"}
    try:
        body = ActionIn.model_validate(
            {
                k: payload.get(k)
                for k in ("action", "version", "reason", "missing_materials", "to_unit")
            }
        )
    except ValidationError as exc:
        return (
            "refused",
            case_no,
            {
                "reason": "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
            },
        )
    try:
        at = captured_at(payload.get("captured_at"), runtime.now())
        with runtime.db.uow() as uow:
            receipt.with_action(uow.session, str(case_no))
            case = cases.act(
                uow, runtime=runtime, actor=actor, case_no=str(case_no), request=body, at=at
            )
            receipt.committed = True
    except Conflict as exc:
        # Someone changed the case centrally since the laptop saw it: never merged silently.
        return "conflict", str(case_no), {"reason": exc.detail, **exc.data}
    except (ActionNotAllowed, ValidationFailed, Forbidden, NotFound) as exc:
        return "refused", str(case_no), _reason(exc)
    _fault("after_action")
    return "accepted", case.case_no, {"version": case.version, "state": case.state}


def captured_at(value: Any, now: datetime) -> datetime | None:
    """When an offline action was done, bounded as intake's ``captured_at`` is."""
    if value is None:
        return None  # a laptop of an older release: the action counts from its arrival
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed.single(
            "captured_at", "an ISO 8601 time is required", "采集时间格式不正确"
        ) from None
    if at.tzinfo is None:
        raise ValidationFailed.single(
            "captured_at", "give a time zone, e.g. +08:00", "请带时区，如 +08:00"
        )
    if at > now + CLOCK_SKEW:
        raise ValidationFailed.single(
            "captured_at", "capture time is in the future", "采集时间不能晚于现在"
        )
    if at < now - MAX_BACKDATE:
        raise ValidationFailed.single(
            "captured_at", "capture time is more than 90 days ago", "采集时间不能早于90天前"
        )
    return at


def printed_number(runtime: Runtime, value: Any, request: IntakeIn) -> str | None:
    """The local number a laptop printed on the receipt, kept as the central case number.

    Only a well-formed one: ``L`` + the capture date + 7 digits, so it cannot meet a central
    number (those have no letter) and reads like every other case number."""
    if not isinstance(value, str) or not _PRINTED.fullmatch(value):
        return None
    captured = request.captured_at
    if captured is None or captured.tzinfo is None:
        return None
    return value if value[1:9] == f"{runtime.local_date(captured):%Y%m%d}" else None


_PRINTED = re.compile(r"L[0-9]{15}")


def _fault(point: str) -> None:
    """A test's way to kill the central node at a named point (``YIBAO_TEST_FAULT``)."""
    if os.environ.get("YIBAO_TEST_FAULT") == point:
        os._exit(70)


def _case_of_client(runtime: Runtime, actor: Actor, case_client_id: str) -> str | None:
    """The central number of a case a laptop took, known there by its client id."""
    with runtime.db.session() as s:
        case_id = s.scalar(
            select(IdempotencyRecord.case_id).where(
                IdempotencyRecord.agency == runtime.agency,
                IdempotencyRecord.user_id == actor.id,
                IdempotencyRecord.key == field_key(case_client_id),
            )
        )
        return s.scalar(select(Case.case_no).where(Case.id == case_id)) if case_id else None


def _response(
    runtime: Runtime, actor: Actor, client_id: uuid.UUID, payload: Any
) -> tuple[str, str | None, dict[str, Any]]:
    """A questionnaire response taken on the laptop (stored once under its client id)."""
    from yibao.questionnaires.responses import ingest_field

    case_no = None
    if isinstance(payload, dict) and payload.get("case_client_id"):
        case_no = _case_of_client(runtime, actor, str(payload["case_client_id"]))
        if case_no is None:
            return "refused", None, {"reason": "the case of this response was not synced"}
    status, detail = ingest_field(
        runtime, actor=actor, client_id=client_id, payload=payload, case_no=case_no
    )
    return status, case_no, detail


def devices(session: Session, *, runtime: Runtime, actor: Actor) -> list[FieldDevice]:
    """Registered laptops (bureau, supervisors, admins; a station master sees their station's)."""
    stmt = select(FieldDevice).where(FieldDevice.agency == runtime.agency)
    if actor.role == Role.STATION_MASTER:
        stmt = stmt.where(FieldDevice.station_code == actor.unit)
    elif actor.role not in (Role.BUREAU_OFFICER, Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("not your page")
    return list(session.scalars(stmt.order_by(FieldDevice.created_at.desc())))


def stale(devices_: list[FieldDevice], now: datetime) -> list[FieldDevice]:
    """Laptops that have not synced for 3 days (never synced counts from registration)."""
    return [
        d
        for d in devices_
        if d.revoked_at is None and now - (d.last_sync_at or d.created_at) > STALE_AFTER
    ]


def revoke(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, device_id: uuid.UUID) -> FieldDevice:
    """Revoke a lost laptop: it can neither download nor sync again."""
    if actor.role not in (Role.ADMIN, Role.BUREAU_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only the bureau or an admin revokes laptops")
    device = uow.session.scalar(
        select(FieldDevice).where(FieldDevice.agency == runtime.agency, FieldDevice.id == device_id)
    )
    if device is None:
        raise NotFound("no such laptop")
    if device.revoked_at is None:
        device.revoked_at = runtime.now()
        device.revoked_by = actor.username
        audit.record(
            uow.session,
            agency=runtime.agency,
            actor_id=actor.id,
            actor_name=actor.username,
            action="field.revoke",
            object_type="device",
            object_id=str(device.id),
            ip=actor.ip,
        )
    uow.commit()
    return device


def conflicts(session: Session, *, runtime: Runtime, actor: Actor) -> list[FieldReceipt]:
    """Field records the central node refused or found in conflict (shown to the bureau)."""
    if actor.role not in (Role.BUREAU_OFFICER, Role.SUPERVISOR, Role.STATION_MASTER):
        raise Forbidden("not your page")
    stmt = select(FieldReceipt).where(
        FieldReceipt.agency == runtime.agency, FieldReceipt.status.in_(("conflict", "refused"))
    )
    return list(session.scalars(stmt.order_by(FieldReceipt.at.desc()).limit(200)))
