"""HTTP adapter of transfers for bureau officers (JSON)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from yibao.runtime import Runtime
from yibao.transfers import rules, service
from yibao.transfers.models import OutboxMessage, Transfer, TransferMessage
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1", tags=["transfers"])


class StartIn(BaseModel):
    """Start a transfer for a relationship-transfer case."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_no: str = Field(max_length=20)
    counterpart: str = Field(max_length=6, description="the other agency's division code")
    role: str = Field(max_length=3, description="this agency's part: in | out")


class MessageIn(BaseModel):
    """A person's step on a transfer, at the version they saw."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=30)
    version: int = Field(ge=1)
    body: dict[str, Any] = Field(default_factory=dict)


def transfer_dict(t: Transfer, runtime: Runtime) -> dict[str, Any]:
    """A transfer as the API shows it (ID masked), with its deadlines on this node's calendar."""
    from yibao.people.rules import mask_id

    agreement = next(
        (a for _, a in service.agreements().bilateral if a.name == t.agreement),
        service.agreements().national,
    )
    d = rules.deadlines(
        runtime.reference().calendar,
        agreement,
        applied=t.applied_date,
        letter=t.letter_date,
        remitted=t.remitted_date,
    )
    state = rules.TState(t.state) if t.state else None
    due = rules.step_due(state, d)
    today = runtime.today()
    waiting = rules.WAITING_ON.get(state) if state else None
    return {
        "id": str(t.id),
        "role": t.role,
        "counterpart": t.counterpart,
        "agreement": t.agreement,
        "agreement_name": agreement.name_zh,
        "state": t.state,
        "state_label": rules.STATE_LABELS_ZH[state] if state else None,
        "counterpart_state": t.counterpart_state,
        "waiting_on": waiting.value if waiting else None,
        "person": {"id_number": mask_id(t.person_id_number), "name": t.person_name},
        "case_no": t.case_no,
        "applied_date": t.applied_date.isoformat(),
        "letter_date": t.letter_date.isoformat() if t.letter_date else None,
        "remitted_date": t.remitted_date.isoformat() if t.remitted_date else None,
        "closed_date": t.closed_date.isoformat() if t.closed_date else None,
        "step_due": due.isoformat() if due else None,
        "total_due": d.total_due.isoformat(),
        "due_estimated": d.estimated,
        "overdue": bool(due and today > due),
        "on_time": (t.closed_date <= d.total_due) if t.closed_date else None,
        "periods": t.periods or [],
        "balance_fen": t.balance_fen,
        "remitted_fen": t.remitted_fen,
        "remit_reference": t.remit_reference,
        "credited_fen": t.credited_fen,
        "refusal_reasons": t.refusal_reasons or [],
        "discrepancy": t.discrepancy,
        "withdraw_reason": t.withdraw_reason,
        "allowed_messages": [m.value for m in rules.allowed_messages(service.snapshot(t))],
        "version": t.version,
        "updated_at": t.updated_at.isoformat(),
    }


def _masked(body: Any) -> Any:
    """A message body as staff may see it: the person's ID and phone numbers masked (the full
    values travel between the nodes; reading them is the audited reveal on the case)."""
    from yibao.people.rules import mask_id, mask_phone

    if not isinstance(body, dict) or not isinstance(body.get("person"), dict):
        return body
    person = dict(body["person"])
    if person.get("id_number"):
        person["id_number"] = mask_id(str(person["id_number"]))
    if person.get("phone"):
        person["phone"] = mask_phone(str(person["phone"]))
    return {**body, "person": person}


def message_dict(m: TransferMessage) -> dict[str, Any]:
    """One message of the log (personal numbers masked)."""
    return {
        "message_id": str(m.message_id),
        "direction": m.direction,
        "peer": m.peer,
        "seq": m.seq,
        "type": m.type,
        "body": _masked(m.body),
        "at": m.at.isoformat(),
        "applied": m.applied,
        "actor": m.actor_name,
    }


def outbox_dict(o: OutboxMessage) -> dict[str, Any]:
    """One outbox row (dead letters)."""
    return {
        "id": o.id,
        "message_id": str(o.message_id),
        "to": o.to_agency,
        "type": o.payload.get("type"),
        "transfer_id": o.payload.get("transfer_id"),
        "attempts": o.attempts,
        "created_at": o.created_at.isoformat(),
        "dead_at": o.dead_at.isoformat() if o.dead_at else None,
        "last_error": o.last_error,
    }


@router.post("/transfers", status_code=201)
def start(body: StartIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Start the transfer of a relationship-transfer case with a partner agency."""
    t = service.start(
        uow,
        runtime=runtime,
        actor=actor,
        request=service.StartRequest(
            case_no=body.case_no, counterpart=body.counterpart, role=body.role
        ),
    )
    runtime.on_outbox()
    return transfer_dict(t, runtime)


@router.get("/transfers")
def list_transfers(
    runtime: RuntimeDep, actor: ActorDep, session: SessionDep, open_only: bool = False
) -> dict[str, Any]:
    """This node's transfers, most recently changed first."""
    rows = service.list_transfers(session, runtime=runtime, actor=actor, open_only=open_only)
    return {"items": [transfer_dict(t, runtime) for t in rows]}


TransferId = Annotated[uuid.UUID, Path()]


@router.get("/transfers/{transfer_id}")
def get_transfer(
    transfer_id: TransferId, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One transfer with its deadlines and the steps allowed now."""
    return transfer_dict(
        service.get_transfer(session, runtime=runtime, actor=actor, transfer_id=transfer_id),
        runtime,
    )


@router.post("/transfers/{transfer_id}/messages")
def send(
    transfer_id: TransferId, body: MessageIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Take a step: eligibility, info_table, funds_remitted, transfer_completed, reminder…"""
    t = service.send(
        uow,
        runtime=runtime,
        actor=actor,
        transfer_id=transfer_id,
        mtype=body.type,
        version=body.version,
        body=body.body,
    )
    runtime.on_outbox()
    return transfer_dict(t, runtime)


@router.get("/transfers/{transfer_id}/messages")
def transfer_messages(
    transfer_id: TransferId, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> list[dict[str, Any]]:
    """The messages of a transfer as this node sent and received them."""
    return [
        message_dict(m)
        for m in service.messages(session, runtime=runtime, actor=actor, transfer_id=transfer_id)
    ]


@router.get("/federation/dead-letters")
def dead_letters(runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """Messages not delivered within 24 hours."""
    return [outbox_dict(o) for o in service.dead_letters(session, runtime=runtime, actor=actor)]


@router.post("/federation/dead-letters/{outbox_id}/retry")
def retry(outbox_id: int, runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Queue a dead letter again."""
    row = service.retry(uow, runtime=runtime, actor=actor, outbox_id=outbox_id)
    runtime.on_outbox()
    return outbox_dict(row)
