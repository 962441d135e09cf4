"""Disputes (矛盾化解), their parties' representatives, mediation sessions and statements."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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


class Dispute(Base):
    """One dispute between a hospital, the insurer and a patient, opened at one station."""

    __tablename__ = "disputes"
    __table_args__ = (
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        Index(None, "agency", "opened_at", "id"),
        Index(None, "agency", "station_code", "opened_at", "id"),
        Index(None, "agency", "state", "due_date"),
        Index(None, "agency", "case_no"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    station_code: Mapped[str] = mapped_column(String(16))  # where it was opened
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    hospital_name: Mapped[str] = mapped_column(String(100))
    insurer_name: Mapped[str] = mapped_column(String(100))
    patient_name: Mapped[str] = mapped_column(String(50))
    # The complaint case (投诉与矛盾纠纷) the dispute came from, if any.
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    case_no: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    limit_days: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    due_estimated: Mapped[bool] = mapped_column(default=False)
    closed_date: Mapped[date | None] = mapped_column(Date)
    terms: Mapped[str | None] = mapped_column(Text)  # agreed: the terms
    escalated_to: Mapped[str | None] = mapped_column(String(200))  # escalated: to whom
    withdrawn_by: Mapped[str | None] = mapped_column(String(10))  # withdrawn: which party
    opened_by: Mapped[int | None] = mapped_column()
    opened_by_name: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class DisputeRepresentative(Base):
    """A person who speaks for one party (hospital, insurer or patient)."""

    __tablename__ = "dispute_representatives"
    __table_args__ = (UniqueConstraint("dispute_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(50))  # role or title
    phone: Mapped[str | None] = mapped_column(
        Sealed("dispute_representatives.phone")
    )  # shown masked


class MediationSession(Base):
    """One mediation session: when, who took part, and the mediator's own notes."""

    __tablename__ = "mediation_sessions"
    __table_args__ = (UniqueConstraint("dispute_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    session_date: Mapped[date] = mapped_column(Date)
    mediator: Mapped[str] = mapped_column(String(50))
    parties_present: Mapped[list[str]] = mapped_column(JSON, default=list)
    mediator_notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartyStatement(Base):
    """What one party said in one session: kept apart from the mediator's notes."""

    __tablename__ = "party_statements"
    __table_args__ = (UniqueConstraint("session_id", "party"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    session_id: Mapped[int] = mapped_column(ForeignKey("mediation_sessions.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)


class DisputeEvent(Base):
    """One entry of a dispute's timeline."""

    __tablename__ = "dispute_events"
    __table_args__ = (UniqueConstraint("dispute_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
