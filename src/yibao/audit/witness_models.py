"""Checkpoints of partner agencies' audit chains that this node witnessed and countersigned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class AuditWitness(Base):
    """A partner's signed chain head as it reached us, with our countersignature.

    Kept so that the partner's operator cannot rewrite their history unseen: a later
    checkpoint of theirs must extend what we hold, and their auditors can ask us for it.
    """

    __tablename__ = "audit_witnessed"
    __table_args__ = (UniqueConstraint("agency", "from_agency", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))  # this node, the witness
    from_agency: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))  # the checkpoint's own time, as signed
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    countersignature: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
