"""Partner nodes witness our audit checkpoints: they check, keep and countersign them.

A checkpoint (the chain head: agency, seq, head hash, time, Ed25519 signature of this node)
travels to every configured partner through the outbox and the signed federation link, like
a transfer message. The partner verifies our signature with our public key from its peers
file, keeps the checkpoint (``audit_witnessed``), and sends back its own signature over it.
We store that countersignature on the checkpoint. From then on even this node's operator
cannot rewrite history unseen: a rewritten chain no longer matches heads that a partner
signed, and the partner still holds what it saw (its ``audit_witnessed``).

``audit.checkpoints.make_checkpoint`` queues (``send_checkpoint``); ``yibao audit verify``
checks the countersignatures stored (``audit.verify``).

Messages (JSON, POSTed to /federation/v1/messages, told apart from transfer messages by
``kind``)::

    {"kind": "audit.checkpoint", "v": 1, "message_id": UUID, "from": A, "to": B,
     "checkpoint": {"agency", "seq", "head_hash", "at", "key_id", "signature"}}
    {"kind": "audit.countersign", ..., "checkpoint": {...}, "countersignature": b64}
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.audit.witness_models import AuditWitness
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, ValidationFailed
from yibao.runtime import Runtime
from yibao.transfers.models import OutboxMessage
from yibao.transfers.peers import Federation

CHECKPOINT = "audit.checkpoint"
COUNTERSIGN = "audit.countersign"
KINDS = (CHECKPOINT, COUNTERSIGN)
VERSION = 1
_HASH = re.compile(r"^[0-9a-f]{64}$")
_AGENCY = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Checkpoint:
    """A signed chain head as it travels between nodes."""

    agency: str
    seq: int
    head_hash: str
    at: str  # ISO 8601, exactly as signed
    key_id: str
    signature: str  # base64 Ed25519

    def as_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "agency": self.agency,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }


def checkpoint_text(agency: str, seq: int, head_hash: str, at: str) -> bytes:
    """What the chain's own node signs (kept in step with ``audit.checkpoints``)."""
    return f"yibao-audit-checkpoint\n{agency}\n{seq}\n{head_hash}\n{at}".encode()


def countersign_text(witness: str, cp: Checkpoint) -> bytes:
    """What a witness signs: the checkpoint, under the witness's own agency code."""
    from yibao.audit.checkpoints import countersign_text as text

    return text(witness, cp.agency, cp.seq, cp.head_hash, cp.at)


def is_audit_message(payload: Any) -> bool:
    """Whether a federation message is about audit checkpoints (not a transfer)."""
    return isinstance(payload, dict) and payload.get("kind") in KINDS


def _sign(fed: Federation, data: bytes) -> str:
    return base64.b64encode(fed.private_key.sign(data)).decode()


def _valid(key: ed25519.Ed25519PublicKey, signature: str, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# ---------------------------------------------------------------- sending


def send_checkpoint(session: Session, fed: Federation, cp: Checkpoint, *, now: datetime) -> int:
    """Queue the checkpoint to every partner, in the caller's transaction; how many queued.

    ``audit.checkpoints.make_checkpoint`` calls this; the relay delivers it like any message.
    """
    for peer in fed.peers.values():
        session.add(
            OutboxMessage(
                agency=fed.agency,
                message_id=uuid.uuid4(),
                to_agency=peer.agency,
                payload=_envelope(CHECKPOINT, fed.agency, peer.agency, cp),
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
        )
    return len(fed.peers)


def _envelope(kind: str, sender: str, to: str, cp: Checkpoint, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "v": VERSION,
        "message_id": str(uuid.uuid4()),
        "from": sender,
        "to": to,
        "checkpoint": cp.as_dict(),
        **extra,
    }


# ---------------------------------------------------------------- receiving


def receive(uow: UnitOfWork, *, runtime: Runtime, sender: str, payload: dict[str, Any]) -> str:
    """Apply an audit message from ``sender`` (already signature-checked); commits.

    Raises ValidationFailed for a malformed message or a bad signature, Conflict when the
    checkpoint contradicts one we hold (a rewritten history: recorded, never overwritten).
    """
    fed = runtime.federation
    assert fed is not None
    cp, countersignature = _parse(runtime, sender, payload)
    peer = fed.peers[sender]
    if payload["kind"] == CHECKPOINT:
        if not _valid(peer.public_key, cp.signature, checkpoint_text(*_signed(cp))):
            raise ValidationFailed.single(
                "checkpoint.signature",
                "the checkpoint's signature does not verify with the sender's key",
                "检查点签名与对方密钥不符",
            )
        outcome = _witness(uow.session, runtime, fed, cp)
    else:
        assert countersignature is not None
        if not _valid(peer.public_key, countersignature, countersign_text(sender, cp)):
            raise ValidationFailed.single(
                "countersignature",
                "the countersignature does not verify with the sender's key",
                "会签与对方密钥不符",
            )
        outcome = _countersigned(uow.session, runtime, sender, peer.key_id, cp, countersignature)
    uow.commit()
    return outcome


def _signed(cp: Checkpoint) -> tuple[str, int, str, str]:
    return cp.agency, cp.seq, cp.head_hash, cp.at


def _parse(runtime: Runtime, sender: str, payload: dict[str, Any]) -> tuple[Checkpoint, str | None]:
    errors: list[FieldError] = []
    if payload.get("v") != VERSION:
        errors.append(FieldError("v", f"version {VERSION} expected"))
    if payload.get("from") != sender:
        errors.append(FieldError("from", "must be the signing agency"))
    if payload.get("to") != runtime.agency:
        errors.append(FieldError("to", f"this node is agency {runtime.agency}"))
    raw = payload.get("checkpoint")
    if not isinstance(raw, dict):
        raise ValidationFailed([*errors, FieldError("checkpoint", "an object")])
    agency, seq, head = raw.get("agency"), raw.get("seq"), raw.get("head_hash")
    at, key_id, sig = raw.get("at"), raw.get("key_id"), raw.get("signature")
    if not isinstance(agency, str) or not _AGENCY.match(agency):
        errors.append(FieldError("checkpoint.agency", "a six-digit agency code"))
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        errors.append(FieldError("checkpoint.seq", "a non-negative integer"))
    if not isinstance(head, str) or not _HASH.match(head):
        errors.append(FieldError("checkpoint.head_hash", "64 lower-case hex digits"))
    for name, value in (("at", at), ("key_id", key_id), ("signature", sig)):
        if not isinstance(value, str) or not value or len(value) > 200:
            errors.append(FieldError(f"checkpoint.{name}", "a non-empty string"))
    countersignature = payload.get("countersignature")
    kind = payload.get("kind")
    if kind == CHECKPOINT and agency != sender:
        errors.append(FieldError("checkpoint.agency", "a node sends its own checkpoints"))
    if kind == COUNTERSIGN:
        if agency != runtime.agency:
            errors.append(FieldError("checkpoint.agency", "a countersignature of our checkpoint"))
        if not isinstance(countersignature, str) or not countersignature:
            errors.append(FieldError("countersignature", "a base64 signature"))
    if errors:
        raise ValidationFailed(errors)
    cp = Checkpoint(str(agency), int(str(seq)), str(head), str(at), str(key_id), str(sig))
    return cp, countersignature if isinstance(countersignature, str) else None


def _witness(session: Session, runtime: Runtime, fed: Federation, cp: Checkpoint) -> str:
    held = session.scalar(
        select(AuditWitness).where(
            AuditWitness.agency == runtime.agency,
            AuditWitness.from_agency == cp.agency,
            AuditWitness.seq == cp.seq,
        )
    )
    if held is not None and held.head_hash != cp.head_hash:
        _conflict(runtime, cp, held.head_hash)
    if held is not None:
        return "duplicate"
    countersignature = _sign(fed, countersign_text(runtime.agency, cp))
    session.add(
        AuditWitness(
            agency=runtime.agency,
            from_agency=cp.agency,
            seq=cp.seq,
            head_hash=cp.head_hash,
            at=cp.at,
            key_id=cp.key_id,
            signature=cp.signature,
            countersignature=countersignature,
            received_at=runtime.now(),
        )
    )
    now = runtime.now()
    session.add(
        OutboxMessage(
            agency=runtime.agency,
            message_id=uuid.uuid4(),
            to_agency=cp.agency,
            payload=_envelope(
                COUNTERSIGN, runtime.agency, cp.agency, cp, countersignature=countersignature
            ),
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=None,
        actor_name=f"federation:{cp.agency}",
        action="audit.witness",
        object_type="audit_checkpoint",
        object_id=f"{cp.agency}:{cp.seq}",
        detail={"head_hash": cp.head_hash, "at": cp.at},
    )
    return "witnessed"


def _conflict(runtime: Runtime, cp: Checkpoint, held_hash: str) -> None:
    """Record, in its own transaction, that a partner's history changed; then refuse."""
    with runtime.db.uow() as uow:
        audit.record(
            uow.session,
            agency=runtime.agency,
            actor_id=None,
            actor_name=f"federation:{cp.agency}",
            action="audit.witness_conflict",
            object_type="audit_checkpoint",
            object_id=f"{cp.agency}:{cp.seq}",
            detail={"held": held_hash, "offered": cp.head_hash},
        )
        uow.commit()
    raise Conflict(
        f"agency {cp.agency}'s checkpoint at seq {cp.seq} differs from the one we witnessed"
    )


def _countersigned(
    session: Session,
    runtime: Runtime,
    witness: str,
    witness_key: str,
    cp: Checkpoint,
    countersignature: str,
) -> str:
    from yibao.audit import models  # the chain's tables (checkpoints live with the chain)

    model: Any = getattr(models, "AuditCheckpoint", None)
    if model is None:
        return "ignored"
    row = session.scalar(
        select(model).where(model.agency == runtime.agency, model.seq == cp.seq).limit(1)
    )
    if row is None or row.head_hash != cp.head_hash:
        raise Conflict(f"no checkpoint at seq {cp.seq} with that head hash on this node")
    if row.partner_signature:
        return "duplicate"
    row.partner = witness
    row.partner_key_id = witness_key
    row.partner_signature = countersignature
    row.partner_at = runtime.now()
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=None,
        actor_name=f"federation:{witness}",
        action="audit.countersigned",
        object_type="audit_checkpoint",
        object_id=f"{runtime.agency}:{cp.seq}",
        detail={"partner": witness, "head_hash": cp.head_hash},
    )
    return "countersigned"


# ---------------------------------------------------------------- checking


def countersignature_valid(fed: Federation, row: Any) -> bool | None:
    """Whether a checkpoint row's partner signature verifies; None when it has none."""
    if not getattr(row, "partner_signature", None):
        return None
    peer = fed.peers.get(row.partner or "")
    if peer is None:
        return False
    cp = Checkpoint(row.agency, row.seq, row.head_hash, _at_text(row), row.key_id, row.signature)
    return _valid(peer.public_key, row.partner_signature, countersign_text(peer.agency, cp))


def _at_text(row: Any) -> str:
    from yibao.audit import checkpoints

    fmt = getattr(checkpoints, "at_text", None)
    return str(fmt(row.at)) if fmt is not None else row.at.isoformat()


def witnessed(session: Session, agency: str, from_agency: str | None = None) -> list[AuditWitness]:
    """The checkpoints of partners this node holds, newest first."""
    stmt = select(AuditWitness).where(AuditWitness.agency == agency)
    if from_agency is not None:
        stmt = stmt.where(AuditWitness.from_agency == from_agency)
    return list(session.scalars(stmt.order_by(AuditWitness.from_agency, AuditWitness.seq.desc())))
