"""Filings for treatment in another region (异地就医备案) as stored rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, UTCDateTime, utcnow
from yibao.sealing import events as sealing_events
from yibao.sealing.types import BlindIndex, Sealed


class Filing(Base):
    """One record of the registry: a filing, the new terms of a change, or a cancellation.

    Records are never edited except for their state (and version): a change or a cancellation
    is a new record whose ``previous_id`` points at the record it replaces.
    """

    __tablename__ = "filings"
    __table_args__ = (
        UniqueConstraint("agency", "filing_no"),
        # A repeated submit of the same form (same user, same key) makes one filing.
        UniqueConstraint("agency", "created_by", "request_key"),
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        # One person's filings (by the digest of the ID number), newest first.
        Index(None, "agency", "person_key", "start_date"),
        # for_person (newest first) and the filings a person holds in force (_held): without
        # these SQLite, which keeps no statistics, walks the whole registry by created_at or
        # by state instead (0015).
        Index(None, "agency", "person_key", "created_at", "id"),
        Index(None, "agency", "person_key", "state"),
        # The registry: newest first, per station, and the daily job (active by end date).
        Index(None, "agency", "created_at", "id"),
        Index(None, "agency", "station_code", "created_at", "id"),
        Index(None, "agency", "state", "end_date"),
        Index(None, "agency", "case_id"),
        Index(None, "agency", "previous_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    filing_no: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))  # file | change | cancel
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("filings.id"))

    # The person, stored as cases store applicants: sealed number, tail, and a lookup digest.
    person_id_number: Mapped[str] = mapped_column(Sealed("filings.person_id_number"))
    person_id_tail: Mapped[str] = mapped_column(String(4))
    person_key: Mapped[str] = mapped_column(BlindIndex())  # keyed HMAC (yibao.sealing.blind)
    person_name: Mapped[str] = mapped_column(String(50))
    person_phone: Mapped[str] = mapped_column(Sealed("filings.person_phone"))

    kind: Mapped[str] = mapped_column(String(24))
    basis: Mapped[str] = mapped_column(String(12))  # proof | commitment
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    province_code: Mapped[str] = mapped_column(String(6))
    province_name: Mapped[str] = mapped_column(String(20))
    city_code: Mapped[str] = mapped_column(String(6))
    city_name: Mapped[str] = mapped_column(String(40))
    division_release: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # none: long-term
    admission_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)  # of a change or a cancellation
    note: Mapped[str | None] = mapped_column(Text)

    # The case that created it; none for a record imported from the registry kept before yibao.
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    case_no: Mapped[str | None] = mapped_column(String(20))
    station_code: Mapped[str] = mapped_column(String(16))
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column()
    created_by_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_date: Mapped[date | None] = mapped_column(Date)  # when it left ``active``
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


event.listen(Filing, "before_insert", sealing_events.filing_person_key)
event.listen(Filing, "before_update", sealing_events.filing_person_key)
