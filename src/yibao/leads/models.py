"""Supervision leads (监督线索) and their timelines, as stored rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow
from yibao.sealing.types import Sealed


class Lead(Base):
    """One lead raised by a hospital station: confidential to supervisors and its author."""

    __tablename__ = "leads"
    __table_args__ = (
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        # Supervisors' list, newest first (keyset on raised_at, id); an author's own leads.
        Index(None, "agency", "raised_at", "id"),
        Index(None, "agency", "raised_by", "raised_at", "id"),
        Index(None, "agency", "state", "due_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    station_code: Mapped[str] = mapped_column(String(16))  # the fixed station that raised it
    hospital: Mapped[str] = mapped_column(String(100))  # the hospital it concerns
    kind: Mapped[str] = mapped_column(String(30))
    urgency: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    patient_id_number: Mapped[str | None] = mapped_column(
        Sealed("leads.patient_id_number")
    )  # shown masked
    patient_id_tail: Mapped[str | None] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(20))
    actions_taken: Mapped[str | None] = mapped_column(Text)  # 事中干预: what was done
    amount_recovered_fen: Mapped[int | None] = mapped_column(BigInteger)
    raised_by: Mapped[int] = mapped_column()  # user id of the author
    raised_by_name: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    due_estimated: Mapped[bool] = mapped_column(default=False)
    closed_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LeadEvent(Base):
    """One entry of a lead's timeline: a step of the lifecycle, a note, or added evidence."""

    __tablename__ = "lead_events"
    __table_args__ = (UniqueConstraint("lead_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))  # raise | verify | ... | note | evidence
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
