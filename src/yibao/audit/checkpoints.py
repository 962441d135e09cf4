"""Signed checkpoints of the chain head, the interval job that makes them, archives and purging.

A checkpoint is this node's Ed25519 signature over ``yibao-audit-checkpoint\\n{agency}\\n{seq}\\n
{head_hash}\\n{at}``. The key is the node's federation key when a peers file is configured (so
partners can check it with the public key they already hold); otherwise a node key kept in the
data directory (``audit-ed25519.pem``, created on first use, mode 0600).

Records leave the database only through :func:`purge`: older than the retention, covered by an
archive (:func:`register_archive`) whose checkpoint verifies, and a chain that verifies first.
The database's own triggers refuse anything else (migration 0018).
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
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yibao.audit import chain
from yibao.audit import service as audit
from yibao.audit.models import AuditArchive, AuditCheckpoint, AuditHead, AuditRecord, AuditSetting
from yibao.config import Settings
from yibao.db import Database, utcnow
from yibao.errors import Conflict, ValidationFailed

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


def node_key(settings: Settings) -> NodeKey:
    """The federation key when configured, else the data directory's node key (made once)."""
    if settings.peers_file:
        from yibao.transfers.peers import load_federation

        fed = load_federation(Path(settings.peers_file), agency=settings.agency)
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
    if isinstance(at, str):  # a raw column value (SQLite text)
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            checkpoint_text(agency, int(seq), head_hash, at_text(at)),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def checkpoint_valid(keys: Mapping[str, ed25519.Ed25519PublicKey], cp: AuditCheckpoint) -> bool:
    """Whether a checkpoint row's signature verifies."""
    return signature_valid(keys, cp.key_id, cp.signature, cp.agency, cp.seq, cp.head_hash, cp.at)


def make_checkpoint(
    db: Database, agency: str, key: NodeKey, *, now: datetime | None = None
) -> AuditCheckpoint:
    """Sign the agency's current head (after recording that a checkpoint is made); commits."""
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
        return make_checkpoint(self.db, agency, node_key(self.settings))

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.tick()
            except Exception:  # the server keeps running; the next round tries again
                log.exception("audit checkpoint failed")


# ---------------------------------------------------------------- retention


def write_retention(session: Session, days: int) -> None:
    """Tell the database triggers how many days records are kept (the one audit_settings row)."""
    row = session.get(AuditSetting, 1)
    if row is None:
        session.add(AuditSetting(id=1, retention_days=days))
    elif row.retention_days != days:
        row.retention_days = days


def register_archive(
    session: Session, agency: str, from_seq: int, to_seq: int, file_sha256: str
) -> AuditArchive:
    """Record that records from_seq..to_seq were exported (file's SHA-256); caller commits.

    The archive keeps the hash of record ``to_seq`` (the anchor the chain is verified from once
    they are purged) and the first checkpoint that covers it.
    """
    if not (1 <= from_seq <= to_seq):
        raise ValidationFailed.single("to_seq", "from_seq ≤ to_seq, both ≥ 1", "起止序号不正确")
    if len(file_sha256) != 64 or any(c not in "0123456789abcdef" for c in file_sha256):
        raise ValidationFailed.single(
            "file_sha256", "64 lower-case hex digits", "文件摘要应为64位十六进制"
        )
    to_hash = session.scalar(
        select(AuditRecord.hash).where(AuditRecord.agency == agency, AuditRecord.seq == to_seq)
    )
    if to_hash is None:
        raise ValidationFailed.single("to_seq", "no such record", "没有这条审计记录")
    cp_id = session.scalar(
        select(AuditCheckpoint.id)
        .where(AuditCheckpoint.agency == agency, AuditCheckpoint.seq >= to_seq)
        .order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
        .limit(1)
    )
    row = AuditArchive(
        agency=agency,
        from_seq=from_seq,
        to_seq=to_seq,
        to_hash=to_hash,
        exported_at=utcnow(),
        file_sha256=file_sha256,
        checkpoint_id=cp_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        agency=agency,
        actor_id=None,
        actor_name=SYSTEM,
        action="audit.archive",
        object_type="audit_archive",
        object_id=str(row.id),
        detail={"from_seq": from_seq, "to_seq": to_seq, "file_sha256": file_sha256},
    )
    return row


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed."""

    removed: int
    from_seq: int | None
    to_seq: int | None


def purge(
    db: Database,
    settings: Settings,
    *,
    before: date,
    keys: Mapping[str, ed25519.Ed25519PublicKey] | None = None,
    now: datetime | None = None,
) -> PurgeResult:
    """Remove archived records older than ``before`` (a local date) and the retention.

    Refuses (Conflict) unless the chain verifies and an archive with a verifying checkpoint
    covers the records; removes whole archived stretches from the start of the chain, so what
    is left verifies from the archive's last hash.
    """
    from yibao.audit.verify import verify_chain

    agency = settings.agency
    keys = keys if keys is not None else verification_keys(settings)
    report = verify_chain(db, agency, keys=keys)
    if not report.ok:
        raise Conflict(f"refusing to purge: {report.message}")
    moment = now or utcnow()
    cutoff = min(
        datetime.combine(before, time(), TZ).astimezone(UTC),
        moment - timedelta(days=settings.audit_retention_days),
    )
    removed, lo, hi = 0, None, None
    with db.uow() as uow:
        s = uow.session
        write_retention(s, settings.audit_retention_days)
        s.flush()
        while True:
            first = s.scalar(select(func.min(AuditRecord.seq)).where(AuditRecord.agency == agency))
            if first is None:
                break
            archive = _covering(s, keys, agency, first, cutoff)
            if archive is None:
                break
            gone = s.execute(
                delete(AuditRecord).where(
                    AuditRecord.agency == agency,
                    AuditRecord.seq >= first,
                    AuditRecord.seq <= archive.to_seq,
                )
            )
            removed += int(getattr(gone, "rowcount", 0) or 0)
            lo = first if lo is None else lo
            hi = archive.to_seq
        if removed == 0:
            raise Conflict(
                "nothing to purge: no archive with a valid checkpoint covers records older "
                f"than {before.isoformat()} and the {settings.audit_retention_days}-day retention"
            )
        audit.record(
            s,
            agency=agency,
            actor_id=None,
            actor_name=SYSTEM,
            action="audit.purge",
            object_type="audit_records",
            object_id=f"{lo}-{hi}",
            detail={"before": before.isoformat(), "removed": removed},
        )
        uow.commit()
    return PurgeResult(removed, lo, hi)


def _covering(
    s: Session,
    keys: Mapping[str, ed25519.Ed25519PublicKey],
    agency: str,
    first: int,
    cutoff: datetime,
) -> AuditArchive | None:
    candidates = s.scalars(
        select(AuditArchive)
        .where(
            AuditArchive.agency == agency,
            AuditArchive.from_seq <= first,
            AuditArchive.to_seq >= first,
        )
        .order_by(AuditArchive.to_seq.desc())
    )
    for archive in candidates:
        newest = s.scalar(
            select(func.max(AuditRecord.at)).where(
                AuditRecord.agency == agency,
                AuditRecord.seq >= first,
                AuditRecord.seq <= archive.to_seq,
            )
        )
        if newest is None or newest >= cutoff:
            continue
        stored = s.scalar(
            select(AuditRecord.hash).where(
                AuditRecord.agency == agency, AuditRecord.seq == archive.to_seq
            )
        )
        cp = s.get(AuditCheckpoint, archive.checkpoint_id) if archive.checkpoint_id else None
        if stored != archive.to_hash or cp is None or cp.seq < archive.to_seq:
            continue
        if not checkpoint_valid(keys, cp):
            continue
        return archive
    return None


def start_background(db: Database, settings: Settings) -> CheckpointTimer | None:
    """At server start: tell the triggers the retention; start the checkpoint timer (if on)."""
    try:
        with db.uow() as uow:
            write_retention(uow.session, settings.audit_retention_days)
            uow.commit()
    except Exception:  # a database not migrated yet must not stop the server from starting
        log.exception("could not write the audit retention setting")
    if settings.audit_checkpoint_minutes <= 0:
        return None
    timer = CheckpointTimer(db, settings, settings.audit_checkpoint_minutes)
    timer.start()
    return timer
