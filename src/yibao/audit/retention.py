"""Retention of audit records, archives of a stretch of the chain, and purging.

Records leave the database only through :func:`purge`: older than the retention, covered by an
archive (:func:`register_archive`) whose checkpoint verifies, and a chain that verifies first.
The database's own triggers refuse anything else (migration 0018).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.audit.checkpoints import SYSTEM, TZ, checkpoint_valid, verification_keys
from yibao.audit.models import AuditArchive, AuditCheckpoint, AuditRecord, AuditSetting
from yibao.config import Settings
from yibao.db import Database, utcnow
from yibao.errors import Conflict, ValidationFailed

log = logging.getLogger("yibao.audit")


def apply_at_start(db: Database, settings: Settings) -> None:
    """Tell the database triggers the configured retention (at server start)."""
    try:
        with db.uow() as uow:
            write_retention(uow.session, settings.audit_retention_days)
            uow.commit()
    except Exception:  # a database not migrated yet must not stop the server from starting
        log.exception("could not write the audit retention setting")


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


