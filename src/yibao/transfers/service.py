"""Use cases of transfers: start one, send a step's message, receive a peer's message.

Every state change writes the message to the outbox in the same transaction (the relay
delivers it later); every received message is recorded under a unique id in the same
transaction as its effect, so a duplicate changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.cases import service as cases
from yibao.cases.lifecycle import Action, State
from yibao.cases.system import open_case, system_act
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.runtime import Runtime
from yibao.transfers import rules
from yibao.transfers.models import OutboxMessage, Transfer, TransferMessage
from yibao.transfers.rules import MType, TState
from yibao.transfers.rules import Role as TRole

TRANSFER_ITEM = "relationship_transfer"
SYSTEM_NAME = "系统（跨区转移）"


@cache
def agreements() -> rules.Agreements:
    """The shipped agreements table."""
    text = resources.files("yibao.transfers").joinpath("data/agreements.yaml").read_text("utf-8")
    return rules.agreements_from(yaml.safe_load(text))


def snapshot(t: Transfer) -> rules.Snapshot:
    """The rules' view of a stored transfer."""
    return rules.Snapshot(
        state=TState(t.state) if t.state else None,
        role=TRole(t.role),
        balance_fen=t.balance_fen,
        remitted_fen=t.remitted_fen or 0,
    )


def _require_officer(actor: Actor) -> None:
    if actor.role != Role.BUREAU_OFFICER:
        raise Forbidden("only bureau officers handle transfers")


def _require_reader(actor: Actor) -> None:
    if actor.role not in (Role.BUREAU_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only bureau officers and supervisors see transfers")


# ---------------------------------------------------------------- applying messages


def _apply(
    session: Session,
    runtime: Runtime,
    t: Transfer,
    mtype: MType,
    body: dict[str, Any],
    *,
    now: datetime,
) -> rules.Effect:
    """Fold one message into this node's record (the same rules for sent and received)."""
    before = t.state
    effect = rules.next_state(snapshot(t), mtype, body)
    if not effect.applied:
        return effect
    for column, value in effect.changes.items():
        setattr(t, column, value)
    t.state = effect.state.value if effect.state else None
    today = runtime.local_date(now)
    if t.state == TState.CHECKING and before != TState.CHECKING:
        t.letter_date = today
    if mtype == MType.FUNDS:
        t.remitted_date = today
    if t.state in {s.value for s in rules.TERMINAL} and t.closed_date is None:
        t.closed_date = today
        _close_case(session, runtime, t)
    t.updated_at = now
    return effect


def _close_case(session: Session, runtime: Runtime, t: Transfer) -> None:
    if not t.case_no:
        return
    if t.state == TState.COMPLETED:
        steps = [Action.TAKE, Action.START, Action.COMPLETE]
        reason = None
    elif t.state == TState.REFUSED:
        steps = [Action.TAKE, Action.REJECT]
        reason = "转出地不予转移：" + "；".join(t.refusal_reasons or [])
    else:
        steps = [Action.WITHDRAW]
        reason = "转移已撤回：" + (t.withdraw_reason or "")
    system_act(
        session,
        runtime=runtime,
        case_no=t.case_no,
        actions=steps,
        actor_name=SYSTEM_NAME,
        reason=reason,
        detail={"transfer": str(t.id)},
    )


def _emit(
    session: Session,
    runtime: Runtime,
    t: Transfer,
    mtype: MType,
    body: dict[str, Any],
    *,
    now: datetime,
    actor_name: str,
) -> OutboxMessage:
    """Apply our own message and queue it for the counterpart, in this transaction."""
    _apply(session, runtime, t, mtype, body, now=now)
    t.last_seq_sent += 1
    message_id = uuid.uuid4()
    payload = {
        "v": rules.PROTOCOL_VERSION,
        "message_id": str(message_id),
        "transfer_id": str(t.id),
        "type": mtype.value,
        "from": runtime.agency,
        "to": t.counterpart,
        "seq": t.last_seq_sent,
        "sent_at": now.isoformat(),
        "sender_state": t.state,
        "agreement": t.agreement,
        "body": body,
    }
    session.add(
        TransferMessage(
            agency=runtime.agency,
            message_id=message_id,
            transfer_id=t.id,
            direction="sent",
            peer=t.counterpart,
            seq=t.last_seq_sent,
            type=mtype.value,
            body=body,
            at=now,
            applied_at=now,
            applied=True,
            actor_name=actor_name,
        )
    )
    out = OutboxMessage(
        agency=runtime.agency,
        message_id=message_id,
        to_agency=t.counterpart,
        payload=payload,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(out)
    return out


# ---------------------------------------------------------------- a person's steps


@dataclass(frozen=True)
class StartRequest:
    """Start a transfer for a relationship-transfer case taken at this agency."""

    case_no: str
    counterpart: str  # the other agency's division code
    role: str  # this agency's part: "in" (the person moves here) or "out"


def start(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, request: StartRequest) -> Transfer:
    """Open the transfer: the in-agency sends its contact letter, the out-agency its request."""
    _require_officer(actor)
    session = uow.session
    case = cases.get_case(session, actor=actor, case_no=request.case_no)
    errors: list[FieldError] = []
    if case.service_code != TRANSFER_ITEM:
        errors.append(
            FieldError("case_no", "not a transfer-of-relationship case", "不是医保关系转移接续办件")
        )
    elif case.state in (State.COMPLETED, State.REJECTED, State.WITHDRAWN):
        errors.append(FieldError("case_no", "the case is closed", "办件已办结"))
    fed = runtime.federation
    counterpart = request.counterpart.strip()
    if fed is None or counterpart not in fed.peers:
        errors.append(
            FieldError(
                "counterpart", f"no partner node for agency '{counterpart}'", "没有该机构的对接节点"
            )
        )
    elif not agreements().needs_transfer(runtime.agency, counterpart):
        errors.append(
            FieldError(
                "counterpart",
                "a move between these agencies needs no transfer",
                "两地之间无需办理转移",
            )
        )
    if request.role not in ("in", "out"):
        errors.append(FieldError("role", "in or out", "须为转入或转出"))
    if not errors and session.scalar(
        select(Transfer.pk).where(
            Transfer.agency == runtime.agency, Transfer.case_no == case.case_no
        )
    ):
        errors.append(
            FieldError(
                "case_no", "a transfer was already started for this case", "该办件已发起转移"
            )
        )
    if errors:
        raise ValidationFailed(errors)
    now = runtime.now()
    agreement = agreements().between(runtime.agency, counterpart)
    t = Transfer(
        id=uuid.uuid4(),
        agency=runtime.agency,
        role=request.role,
        counterpart=counterpart,
        agreement=agreement.name,
        state=None,
        person_id_number=case.applicant_id_number,
        person_name=case.applicant_name,
        person_phone=case.applicant_phone,
        case_no=case.case_no,
        applied_at=case.received_at,
        applied_date=case.intake_date,
        last_seq_sent=0,
        last_seq_applied=0,
        created_at=now,
        updated_at=now,
        remitted_fen=0,
        periods=[],
        refusal_reasons=[],
    )
    session.add(t)
    person = {
        "id_number": case.applicant_id_number,
        "name": case.applicant_name,
        "phone": case.applicant_phone,
    }
    body = {"person": person, "case_no": case.case_no, "applied_date": case.intake_date.isoformat()}
    mtype = MType.LETTER if request.role == "in" else MType.REQUEST
    _emit(session, runtime, t, mtype, body, now=now, actor_name=actor.display_name)
    system_act(
        session,
        runtime=runtime,
        case_no=case.case_no,
        actions=[Action.TAKE, Action.START],
        actor_name=SYSTEM_NAME,
        detail={"transfer": str(t.id)},
    )
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="transfer.start",
        object_type="transfer",
        object_id=str(t.id),
        ip=actor.ip,
        detail={"counterpart": counterpart, "role": request.role},
    )
    _commit(uow)
    return t


def send(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    transfer_id: uuid.UUID,
    mtype: str,
    version: int,
    body: dict[str, Any],
) -> Transfer:
    """A person's step: accept/refuse, information table, remittance, completion, reminder..."""
    _require_officer(actor)
    session = uow.session
    t = _load(session, runtime, transfer_id)
    try:
        kind = MType(mtype)
    except ValueError:
        raise ValidationFailed.single(
            "type", f"unknown message type '{mtype}'", "未知的消息类型"
        ) from None
    if kind in (MType.LETTER, MType.REQUEST):
        raise ValidationFailed.single("type", "sent by the node itself", "由系统自动发送")
    if version != t.version:
        raise Conflict(
            f"the transfer changed (now version {t.version}, state {t.state})",
            current_version=t.version,
            current_state=t.state,
        )
    rules.check_send(snapshot(t), kind, body)
    now = runtime.now()
    _emit(session, runtime, t, kind, body, now=now, actor_name=actor.display_name)
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"transfer.{kind.value}",
        object_type="transfer",
        object_id=str(t.id),
        ip=actor.ip,
    )
    _commit(uow)
    return t


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        raise Conflict("the transfer changed while you were acting; reload it") from None


def _load(session: Session, runtime: Runtime, transfer_id: uuid.UUID) -> Transfer:
    t = session.scalar(
        select(Transfer).where(Transfer.agency == runtime.agency, Transfer.id == transfer_id)
    )
    if t is None:
        raise NotFound("no such transfer")
    return t


# ---------------------------------------------------------------- a peer's messages


def receive(uow: UnitOfWork, *, runtime: Runtime, sender: str, payload: Any) -> str:
    """Record a peer's message and apply every message now in order; 'duplicate' if seen."""
    envelope = _check_envelope(runtime, sender, payload)
    session = uow.session
    message_id = uuid.UUID(envelope["message_id"])
    transfer_id = uuid.UUID(envelope["transfer_id"])
    seen = session.scalar(
        select(TransferMessage.id).where(
            TransferMessage.agency == runtime.agency, TransferMessage.message_id == message_id
        )
    )
    if seen is not None:
        return "duplicate"
    now = runtime.now()
    session.add(
        TransferMessage(
            agency=runtime.agency,
            message_id=message_id,
            transfer_id=transfer_id,
            direction="recv",
            peer=sender,
            seq=envelope["seq"],
            type=envelope["type"],
            body=envelope["body"],
            at=now,
            applied_at=None,
            applied=None,
            actor_name=sender,
        )
    )
    session.flush()
    applied = _apply_pending(session, runtime, transfer_id, sender, envelope, now=now)
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=None,
        actor_name=f"node {sender}",
        action="transfer.receive",
        object_type="transfer",
        object_id=str(transfer_id),
        detail={
            "message_id": str(message_id),
            "type": envelope["type"],
            "seq": envelope["seq"],
            "applied": bool(applied),
        },
    )
    _commit(uow)
    return "applied" if applied else "stored"


def _apply_pending(
    session: Session,
    runtime: Runtime,
    transfer_id: uuid.UUID,
    sender: str,
    envelope: dict[str, Any],
    *,
    now: datetime,
) -> int:
    """Apply the sender's messages that are next in its order; later ones wait for the gap."""
    t = session.scalar(
        select(Transfer).where(Transfer.agency == runtime.agency, Transfer.id == transfer_id)
    )
    count = 0
    opened = False
    while True:
        expected = (t.last_seq_applied if t else 0) + 1
        msg = session.scalar(
            select(TransferMessage).where(
                TransferMessage.agency == runtime.agency,
                TransferMessage.transfer_id == transfer_id,
                TransferMessage.direction == "recv",
                TransferMessage.seq == expected,
            )
        )
        if msg is None:
            break
        mtype = MType(msg.type)
        if t is None:
            t = _open_from(
                session, runtime, transfer_id, sender, mtype, msg.body, envelope, now=now
            )
            if t is None:  # a first message that cannot open a transfer: keep it, apply none
                msg.applied, msg.applied_at = False, now
                return count
            opened = True
        effect = _apply(session, runtime, t, mtype, msg.body, now=now)
        msg.applied, msg.applied_at = effect.applied, now
        t.last_seq_applied = msg.seq
        count += 1
        # The node's own reflex: a request from the out-agency is answered by the letter.
        if mtype == MType.REQUEST and effect.applied and t.role == TRole.IN:
            _emit(
                session,
                runtime,
                t,
                MType.LETTER,
                {
                    "person": msg.body["person"],
                    "case_no": t.case_no,
                    "applied_date": t.applied_date.isoformat(),
                },
                now=now,
                actor_name=SYSTEM_NAME,
            )
    if t is not None:
        _note_counterpart_state(session, runtime, t, envelope, opened=opened)
    return count


def _note_counterpart_state(
    session: Session, runtime: Runtime, t: Transfer, envelope: dict[str, Any], *, opened: bool
) -> None:
    """The counterpart's state as its latest message (highest ``seq``) reported it.

    Deliveries may come out of order: a message that fills a gap must not overwrite what a
    later one said, so duplicated or shuffled deliveries show the same state as in-order ones.
    """
    latest = session.scalar(
        select(func.max(TransferMessage.seq)).where(
            TransferMessage.agency == runtime.agency,
            TransferMessage.transfer_id == t.id,
            TransferMessage.direction == "recv",
        )
    )
    if envelope["seq"] >= (latest or 0):
        t.counterpart_state = envelope.get("sender_state")
    elif opened and t.last_seq_applied >= (latest or 0):
        # Later messages came before the first one, when this node had no record to note
        # their states on; both records fold the same messages, so ours is the best estimate.
        t.counterpart_state = t.state


def _open_from(
    session: Session,
    runtime: Runtime,
    transfer_id: uuid.UUID,
    sender: str,
    mtype: MType,
    body: dict[str, Any],
    envelope: dict[str, Any],
    *,
    now: datetime,
) -> Transfer | None:
    """This node's record of a transfer the counterpart started, with a case for it here."""
    if mtype not in (MType.REQUEST, MType.LETTER):
        return None
    role = TRole.IN if mtype == MType.REQUEST else TRole.OUT
    person = body["person"]
    ref = runtime.reference()
    hall = ref.bureau_unit()
    case_no = None
    if hall is not None and TRANSFER_ITEM in ref.services:
        case = open_case(
            session,
            runtime=runtime,
            service_code=TRANSFER_ITEM,
            unit=hall,
            channel="online",
            id_number=str(person["id_number"]),
            name=str(person["name"]),
            phone=str(person.get("phone") or ""),
            actor_name=f"{SYSTEM_NAME} · {sender}",
            note=f"由 {sender} 发起的医保关系转移（{'转入' if role == TRole.IN else '转出'}）",
        )
        case_no = case.case_no
    try:
        applied_date = datetime.fromisoformat(str(body.get("applied_date"))).date()
    except ValueError:
        applied_date = runtime.local_date(now)
    t = Transfer(
        id=transfer_id,
        agency=runtime.agency,
        role=role.value,
        counterpart=sender,
        agreement=agreements().between(runtime.agency, sender).name,
        state=None,
        person_id_number=str(person["id_number"]),
        person_name=str(person["name"]),
        person_phone=person.get("phone"),
        case_no=case_no,
        applied_at=now,
        applied_date=applied_date,
        last_seq_sent=0,
        last_seq_applied=0,
        created_at=now,
        updated_at=now,
        remitted_fen=0,
        periods=[],
        refusal_reasons=[],
    )
    session.add(t)
    session.flush()
    if case_no:
        system_act(
            session,
            runtime=runtime,
            case_no=case_no,
            actions=[Action.START],
            actor_name=SYSTEM_NAME,
            detail={"transfer": str(transfer_id)},
        )
    return t


def _check_envelope(runtime: Runtime, sender: str, payload: Any) -> dict[str, Any]:
    errors: list[FieldError] = []
    if not isinstance(payload, dict):
        raise ValidationFailed.single("body", "a JSON object", "须为 JSON 对象")
    if payload.get("v") != rules.PROTOCOL_VERSION:
        errors.append(FieldError("v", f"protocol version {rules.PROTOCOL_VERSION} expected"))
    for name in ("message_id", "transfer_id"):
        try:
            uuid.UUID(str(payload.get(name)))
        except ValueError:
            errors.append(FieldError(name, "a UUID"))
    if payload.get("from") != sender:
        errors.append(FieldError("from", "must be the signing agency"))
    if payload.get("to") != runtime.agency:
        errors.append(FieldError("to", f"this node is agency {runtime.agency}"))
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        errors.append(FieldError("seq", "a positive integer"))
    body = payload.get("body")
    if not isinstance(body, dict):
        errors.append(FieldError("body", "an object"))
    try:
        mtype = MType(str(payload.get("type")))
    except ValueError:
        errors.append(FieldError("type", "unknown message type"))
        mtype = None
    if mtype is not None and isinstance(body, dict):
        errors += [
            FieldError(f"body.{e.field}", e.message) for e in rules.validate_body(mtype, body)
        ]
    if errors:
        raise ValidationFailed(errors)
    return payload


# ---------------------------------------------------------------- reads and retries


def list_transfers(
    session: Session, *, runtime: Runtime, actor: Actor, open_only: bool = False
) -> list[Transfer]:
    """This node's transfers, for the board."""
    _require_reader(actor)
    stmt = select(Transfer).where(Transfer.agency == runtime.agency)
    if open_only:
        stmt = stmt.where(Transfer.state.not_in([s.value for s in rules.TERMINAL]))
    return list(session.scalars(stmt.order_by(Transfer.updated_at.desc()).limit(500)))


def get_transfer(
    session: Session, *, runtime: Runtime, actor: Actor, transfer_id: uuid.UUID
) -> Transfer:
    """One transfer."""
    _require_reader(actor)
    return _load(session, runtime, transfer_id)


def messages(
    session: Session, *, runtime: Runtime, actor: Actor, transfer_id: uuid.UUID
) -> list[TransferMessage]:
    """The message log of one transfer, in time order."""
    _require_reader(actor)
    _load(session, runtime, transfer_id)
    return list(
        session.scalars(
            select(TransferMessage)
            .where(
                TransferMessage.agency == runtime.agency,
                TransferMessage.transfer_id == transfer_id,
            )
            .order_by(TransferMessage.at, TransferMessage.id)
        )
    )


def dead_letters(session: Session, *, runtime: Runtime, actor: Actor) -> list[OutboxMessage]:
    """Messages the relay gave up on (24 h without delivery)."""
    _require_reader(actor)
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.agency == runtime.agency,
                OutboxMessage.dead_at.is_not(None),
                OutboxMessage.delivered_at.is_(None),
            )
            .order_by(OutboxMessage.id)
        )
    )


def retry(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, outbox_id: int) -> OutboxMessage:
    """Put a dead letter back in the queue, now."""
    _require_officer(actor)
    row = uow.session.get(OutboxMessage, outbox_id)
    if row is None or row.agency != runtime.agency or row.delivered_at is not None:
        raise NotFound("no such undelivered message")
    now = runtime.now()
    row.dead_at = None
    row.attempts = 0
    row.created_at = now  # the 24-hour clock starts again
    row.next_attempt_at = now
    audit.record(
        uow.session,
        agency=runtime.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="transfer.retry",
        object_type="outbox",
        object_id=str(row.id),
        ip=actor.ip,
    )
    uow.commit()
    return row
