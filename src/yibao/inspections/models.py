"""Stored rows of inspections: the inspection, its checked items, the rectification tasks."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
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


class Inspection(Base):
    """One four-in-place inspection of one station by the bureau (四到位检查)."""

    __tablename__ = "inspections"
    __table_args__ = (
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        # A station's history; the agency's newest first (keyset paging).
        Index(None, "agency", "station_code", "inspection_date"),
        Index(None, "agency", "inspection_date", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    station_code: Mapped[str] = mapped_column(String(16))
    inspection_date: Mapped[date] = mapped_column(Date)
    inspectors: Mapped[list[str]] = mapped_column(JSON, default=list)  # names as written
    checklist_version: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(Integer)  # 0–100
    area_scores: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    deadline_days: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column()
    created_by_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InspectionResult(Base):
    """One checked item of an inspection, with the item's name and weight as scored."""

    __tablename__ = "inspection_results"
    __table_args__ = (UniqueConstraint("inspection_id", "item_code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)  # checklist order
    item_code: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(12))
    item_name_zh: Mapped[str] = mapped_column(String(100))
    item_name_en: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)


class InspectionTask(Base):
    """A failed item to rectify (整改): owned by the station's master, due in working days."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        Index(None, "agency", "station_code", "state", "deadline_date"),
        Index(None, "agency", "state", "deadline_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE")
    )
    result_id: Mapped[int] = mapped_column(ForeignKey("inspection_results.id", ondelete="CASCADE"))
    station_code: Mapped[str] = mapped_column(String(16))
    owner_name: Mapped[str | None] = mapped_column(String(50))  # the station master at the time
    item_code: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(12))
    item_name_zh: Mapped[str] = mapped_column(String(100))
    item_name_en: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)  # the inspector's note on the failed item
    state: Mapped[str] = mapped_column(String(12))  # open | reported | verified
    deadline_date: Mapped[date] = mapped_column(Date)
    deadline_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_date: Mapped[date | None] = mapped_column(Date)  # of the report now standing
    closed_date: Mapped[date | None] = mapped_column(Date)  # verified on
    last_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class InspectionTaskEvent(Base):
    """One step of a task: created, reported fixed, verified, sent back (who, when, why)."""

    __tablename__ = "inspection_task_events"
    __table_args__ = (UniqueConstraint("task_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspection_tasks.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create | report_fixed | verify | send_back
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
