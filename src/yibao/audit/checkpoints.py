"""Signed checkpoints of the chain head and the interval job that makes them.

A checkpoint is this node's Ed25519 signature over ``yibao-audit-checkpoint\\n{agency}\\n{seq}\\n
{head_hash}\\n{at}``. The key is the node's federation key when a peers file is configured (so
partners can check it with the public key they already hold); otherwise a node key kept in the
data directory (``audit-ed25519.pem``, created on first use, mode 0600).

With partners configured, making a checkpoint also queues it to every partner in the same
transaction (``audit.witness.send_checkpoint``: the federation outbox, delivered by the relay
of the running server); the checkpoint row names the first partner in ``partner`` until a
countersignature comes back (``yibao-audit-countersign\\n{witness}\\n{agency}\\n{seq}\\n
{head_hash}\\n{at}``, signed with the witness's federation key), which ``yibao audit verify``
then checks against the partner's public key from the peers file.

Retention, archives and purging are in :mod:`yibao.audit.retention`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.audit import chain
from yibao.audit import service as audit
from yibao.audit.models import AuditCheckpoint, AuditHead
from yibao.config import Settings
from yibao.db import Database, utcnow

if TYPE_CHECKING:
    from yibao.transfers.peers import Federation

log = logging.getLogger("yibao.audit")
KEY_FILE = "audit-ed25519.pem"
TZ = ZoneInfo("Asia/Shanghai")
SYSTEM = "system"

# Called with (session, checkpoint) in the transaction that makes a checkpoint (e.g. to queue
# it for partner nodes).
checkpoint_hooks: list[Callable[[Session, AuditCheckpoint], None]] = []


@dataclass(frozen=True)
class NodeKey:
    """The key this node signs its checkpoints with."""

    key_id: str
    private_key: ed25519.Ed25519PrivateKey

    @property
    def public_key(self) -> ed25519.Ed25519PublicKey:
        """The matching public key."""
        return self.private_key.public_key()


def at_text(moment: datetime) -> str:
    """A checkpoint's time as signed (ISO 8601, UTC, microseconds)."""
    return chain.at_text(moment)


def checkpoint_text(agency: str, seq: int, head_hash: str, at: str) -> bytes:
    """What a checkpoint's signature covers."""
    return f"yibao-audit-checkpoint\n{agency}\n{seq}\n{head_hash}\n{at}".encode()


def countersign_text(witness: str, agency: str, seq: int, head_hash: str, at: str) -> bytes:
    """What a partner (the witness) signs when it countersigns a checkpoint."""
    return f"yibao-audit-countersign\n{witness}\n{agency}\n{seq}\n{head_hash}\n{at}".encode()


def _key_id(public: ed25519.Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "node-" + hashlib.sha256(raw).hexdigest()[:16]


def _data_dir_key(path: Path, *, create: bool) -> NodeKey | None:
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return NodeKey(_key_id(key.public_key()), key)


def federation_of(settings: Settings) -> Federation | None:
    """This node's federation (its key and partners) when a peers file is configured."""
    if not settings.peers_file:
        return None
    from yibao.transfers.peers import load_federation

    return load_federation(Path(settings.peers_file), agency=settings.agency)


def partner_keys(settings: Settings) -> dict[str, ed25519.Ed25519PublicKey]:
    """The public keys of the partners that may countersign our checkpoints, by agency."""
    fed = federation_of(settings)
    return {} if fed is None else {p.agency: p.public_key for p in fed.peers.values()}


def node_key(settings: Settings) -> NodeKey:
    """The federation key when configured, else the data directory's node key (made once)."""
    fed = federation_of(settings)
    if fed is not None:
        return NodeKey(fed.key_id, fed.private_key)
    key = _data_dir_key(settings.data_dir / KEY_FILE, create=True)
    assert key is not None
    return key


def verification_keys(settings: Settings) -> dict[str, ed25519.Ed25519PublicKey]:
    """Every key this node's checkpoints may carry, by key id."""
    keys: dict[str, ed25519.Ed25519PublicKey] = {}
    local = _data_dir_key(settings.data_dir / KEY_FILE, create=False)
    if local is not None:
        keys[local.key_id] = local.public_key
    if settings.peers_file:
        own = node_key(settings)
        keys[own.key_id] = own.public_key
    return keys


def signature_valid(
    keys: Mapping[str, ed25519.Ed25519PublicKey],
    key_id: str,
    signature: str,
    agency: str,
    seq: int,
    head_hash: str,
    at: datetime | str,
) -> bool:
    """Whether a checkpoint's signature verifies with the key it names."""
    key = keys.get(key_id)
    if key is None:
        return False
    return _verifies(key, signature, checkpoint_text(agency, int(seq), head_hash, _at_of(at)))


def countersignature_valid(
    key: ed25519.Ed25519PublicKey | None,
    countersignature: str,
    *,
    witness: str,
    agency: str,
    seq: int,
    head_hash: str,
    at: datetime | str,
) -> bool:
    """Whether a partner's countersignature of a checkpoint verifies with the partner's key."""
    if key is None:
        return False
    text = countersign_text(witness, agency, int(seq), head_hash, _at_of(at))
    return _verifies(key, countersignature, text)


def _at_of(at: datetime | str) -> str:
    if isinstance(at, str):  # a raw column value (SQLite text)
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at_text(at)


def _verifies(key: ed25519.Ed25519PublicKey, signature: str, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def checkpoint_valid(keys: Mapping[str, ed25519.Ed25519PublicKey], cp: AuditCheckpoint) -> bool:
    """Whether a checkpoint row's signature verifies."""
    return signature_valid(keys, cp.key_id, cp.signature, cp.agency, cp.seq, cp.head_hash, cp.at)


def make_checkpoint(
    db: Database,
    agency: str,
    key: NodeKey,
    *,
    now: datetime | None = None,
    federation: Federation | None = None,
) -> AuditCheckpoint:
    """Sign the agency's current head (after recording that a checkpoint is made); commits.

    With a ``federation`` that has partners, the checkpoint is queued to each of them for
    countersigning in the same transaction.
    """
    with db.uow() as uow:
        session = uow.session
        seq, _hash = audit.lock_head(session.connection(), agency)
        audit.record(
            session,
            agency=agency,
            actor_id=None,
            actor_name=SYSTEM,
            action="audit.checkpoint",
            object_type="audit_checkpoint",
            object_id=str(seq + 1),
            detail={"key_id": key.key_id},
        )
        session.flush()
        head = session.execute(
            select(AuditHead.seq, AuditHead.hash).where(AuditHead.agency == agency)
        ).one()
        at = (now or utcnow()).astimezone(UTC)
        signed = checkpoint_text(agency, head.seq, head.hash, at_text(at))
        cp = AuditCheckpoint(
            agency=agency,
            seq=head.seq,
            head_hash=head.hash,
            at=at,
            key_id=key.key_id,
            signature=base64.b64encode(key.private_key.sign(signed)).decode(),
        )
        if federation is not None and federation.peers:
            from yibao.audit import witness

            cp.partner = min(federation.peers)  # asked; the first to countersign replaces it
            travelling = witness.Checkpoint(
                agency, head.seq, head.hash, at_text(at), key.key_id, cp.signature
            )
            witness.send_checkpoint(session, federation, travelling, now=at)
        session.add(cp)
        session.flush()
        for hook in checkpoint_hooks:
            hook(session, cp)
        uow.commit()
    return cp


def latest_checkpoints(session: Session, agency: str, limit: int = 20) -> list[AuditCheckpoint]:
    """The agency's checkpoints, newest first."""
    stmt = (
        select(AuditCheckpoint)
        .where(AuditCheckpoint.agency == agency)
        .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def checkpoint_due(session: Session, agency: str) -> bool:
    """Whether the head moved since the last checkpoint."""
    head = session.scalar(select(AuditHead.seq).where(AuditHead.agency == agency)) or 0
    last = session.scalar(
        select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.agency == agency)
    )
    return head > (last if last is not None else 0)


class CheckpointTimer:
    """A daemon thread that makes a checkpoint every ``minutes`` when the head moved."""

    def __init__(self, db: Database, settings: Settings, minutes: float) -> None:
        self.db, self.settings, self.seconds = db, settings, minutes * 60
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="yibao-audit-checkpoint")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait briefly."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def tick(self) -> AuditCheckpoint | None:
        """One round: a checkpoint if the head moved, else None."""
        agency = self.settings.agency
        with self.db.session() as s:
            if not checkpoint_due(s, agency):
                return None
        fed = federation_of(self.settings)
        key = NodeKey(fed.key_id, fed.private_key) if fed else node_key(self.settings)
        return make_checkpoint(self.db, agency, key, federation=fed)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.tick()
            except Exception:  # the server keeps running; the next round tries again
                log.exception("audit checkpoint failed")


def start_background(db: Database, settings: Settings) -> CheckpointTimer | None:
    """At server start: start the checkpoint timer (if on)."""
    if settings.audit_checkpoint_minutes <= 0:
        return None
    timer = CheckpointTimer(db, settings, settings.audit_checkpoint_minutes)
    timer.start()
    return timer
