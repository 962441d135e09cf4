"""Cases, their timeline, and idempotency records as stored rows."""

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
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow
from yibao.sealing import events as sealing_events
from yibao.sealing.types import BlindIndex, Sealed


class Case(Base):
    """One request of one person for one catalogue item (办件)."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("agency", "case_no"),
        ForeignKeyConstraint(["agency", "service_code"], ["services.agency", "services.code"]),
        ForeignKeyConstraint(["agency", "intake_station"], ["stations.agency", "stations.code"]),
        ForeignKeyConstraint(["agency", "unit"], ["stations.agency", "stations.code"]),
        # Queues: a unit's open cases by urgency.
        Index(None, "agency", "unit", "state", "due_date"),
        # Lists by intake station, newest first (keyset on received_at, id).
        Index(None, "agency", "intake_station", "received_at", "id"),
        Index(None, "agency", "received_at", "id"),
        Index(None, "agency", "state", "due_date"),
        Index(None, "agency", "applicant_id_tail"),
        # Exact look-up by full ID number (the keyed blind index, yibao.sealing.blind).
        Index(None, "agency", "applicant_id_key"),
        # Reports: completions by the day they closed.
        Index(None, "agency", "state", "closed_date"),
        # Cases taken on one mobile visit.
        Index(None, "agency", "visit_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    case_no: Mapped[str] = mapped_column(String(20))
    service_code: Mapped[str] = mapped_column(String(40))
    intake_station: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))

    # Sealed at rest (yibao.sealing): the laptop key on a field laptop, the data key centrally.
    applicant_id_number: Mapped[str] = mapped_column(Sealed("cases.applicant_id_number"))
    # Keyed digest of the full ID number; filled in on insert (yibao.sealing.events).
    applicant_id_key: Mapped[str | None] = mapped_column(BlindIndex())
    applicant_id_tail: Mapped[str] = mapped_column(String(4))
    applicant_name: Mapped[str] = mapped_column(String(50))
    applicant_initials: Mapped[str] = mapped_column(String(50), default="")
    applicant_phone: Mapped[str] = mapped_column(Sealed("cases.applicant_phone"))

    materials_received: Mapped[list[str]] = mapped_column(JSON, default=list)
    materials_missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    # The mobile visit the case was taken on (a visit of the intake station on the capture date).
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"))

    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # capture time
    intake_date: Mapped[date] = mapped_column(Date)  # local date of capture
    due_date: Mapped[date] = mapped_column(Date)
    due_estimated: Mapped[bool] = mapped_column(default=False)
    remaining_days: Mapped[int | None] = mapped_column(Integer)  # set while paused
    closed_date: Mapped[date | None] = mapped_column(Date)

    created_by: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


event.listen(Case, "before_insert", sealing_events.case_id_key)
event.listen(Case, "before_update", sealing_events.case_id_key)


class CaseEvent(Base):
    """One entry of a case's timeline: who moved it from which state to which, and why."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class IdempotencyRecord(Base):
    """The first answer to an intake sent with an ``Idempotency-Key``, per user."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("agency", "user_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    user_id: Mapped[int] = mapped_column()
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
