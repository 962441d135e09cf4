"""Audit records, the chain head of each agency, signed checkpoints and archives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from yibao.audit.chain import canonical_detail
from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class CanonicalJSON(TypeDecorator[Any]):
    """JSON stored as its canonical text (sorted keys, compact), as the chain hashes it.

    The verifier can then hash the stored text as it is, without parsing it again.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        wrap = getattr(dialect, "_psycopg_Json", None)  # PostgreSQL: a psycopg Json value
        if wrap is not None:
            return lambda value: None if value is None else wrap(value, dumps=canonical_detail)
        return lambda value: None if value is None else canonical_detail(value)


class AuditRecord(Base):
    """Who did what to which object, when and from where (append-only, hash-chained)."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index(None, "agency", "object_type", "object_id"),
        Index(None, "agency", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    role: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(12), default="ok", server_default="ok")
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Given when the record is flushed (audit.service), under the lock of the chain head.
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last link of an agency's chain; its row lock orders concurrent appends."""

    __tablename__ = "audit_heads"

    agency: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditCheckpoint(Base):
    """The chain head at a moment, signed by this node (and countersigned by a partner)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index(None, "agency", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)  # base64 Ed25519 over checkpoint_text
    partner: Mapped[str | None] = mapped_column(String(6))
    partner_key_id: Mapped[str | None] = mapped_column(String(64))
    partner_signature: Mapped[str | None] = mapped_column(Text)
    partner_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditArchive(Base):
    """An exported stretch of the chain (from_seq..to_seq); purging it needs this row."""

    __tablename__ = "audit_archives"
    __table_args__ = (Index(None, "agency", "to_seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int] = mapped_column(BigInteger)
    to_hash: Mapped[str] = mapped_column(String(64))  # the anchor once the stretch is purged
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    file_sha256: Mapped[str] = mapped_column(String(64))
    checkpoint_id: Mapped[int | None] = mapped_column(BigInteger)


class AuditSetting(Base):
    """One row: how many days audit records are kept at least (read by the database triggers)."""

    __tablename__ = "audit_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer)
