"""Villages and the visits of mobile stations (流动服务站) to them, as stored rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class Village(Base):
    """A village (村) or community of a town, with its approximate way to the bureau hall."""

    __tablename__ = "villages"
    __table_args__ = (
        UniqueConstraint("agency", "town_code", "town_release", "name"),
        ForeignKeyConstraint(
            ["agency", "town_code", "town_release"],
            ["towns.agency", "towns.code", "towns.release"],
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    town_code: Mapped[str] = mapped_column(String(12))
    town_release: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))
    distance_km: Mapped[float | None] = mapped_column(Float)  # to the bureau hall, by road
    travel_minutes: Mapped[int | None] = mapped_column(Integer)
    approximate: Mapped[bool] = mapped_column(default=True)


class Visit(Base):
    """One visit of a mobile station's team to one village on one day (走村入户)."""

    __tablename__ = "visits"
    __table_args__ = (
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        ForeignKeyConstraint(
            ["agency", "town_code", "town_release"],
            ["towns.agency", "towns.code", "towns.release"],
        ),
        # Calendars and lists by day; a station's itinerary; a village's next visits.
        Index(None, "agency", "visit_date", "station_code"),
        Index(None, "agency", "station_code", "visit_date"),
        Index(None, "agency", "town_code", "village", "visit_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    station_code: Mapped[str] = mapped_column(String(16))
    town_code: Mapped[str] = mapped_column(String(12))
    town_release: Mapped[str] = mapped_column(String(10))
    village: Mapped[str] = mapped_column(String(50))
    visit_date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)  # agency-local
    end_time: Mapped[time] = mapped_column(Time)
    team: Mapped[list[str]] = mapped_column(JSON, default=list)  # user names
    state: Mapped[str] = mapped_column(String(12))  # planned | done | cancelled
    reason: Mapped[str | None] = mapped_column(Text)  # of the last change or the cancellation
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class VisitEvent(Base):
    """One entry of a visit's log: planned, changed (what, from what, why), cancelled, done."""

    __tablename__ = "visit_events"
    __table_args__ = (UniqueConstraint("visit_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
