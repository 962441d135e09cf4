"""Stored rows of 好差评: ratings, rectification tasks, their follow-ups (回访) and log."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class Rating(Base):
    """The one rating of one finished case (一事一评)."""

    __tablename__ = "ratings"
    __table_args__ = (
        # One rating a case: the unique key settles two simultaneous ratings.
        UniqueConstraint("agency", "case_id"),
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        # Rates by station, clerk and item over the days cases closed.
        Index(None, "agency", "station_code", "closed_date"),
        Index(None, "agency", "handler_id", "closed_date"),
        Index(None, "agency", "service_code", "closed_date"),
        # Agency-wide rates over a period (the overview, the ratings page) (0015).
        Index(None, "agency", "closed_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    case_no: Mapped[str] = mapped_column(String(20))
    service_code: Mapped[str] = mapped_column(String(40))
    # The unit that completed the case, and who completed it (谁办理、谁负责).
    station_code: Mapped[str] = mapped_column(String(16))
    handler_id: Mapped[int | None] = mapped_column()
    handler_name: Mapped[str] = mapped_column(String(64), default="")
    closed_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(10))  # phone | pad
    overall: Mapped[int] = mapped_column(SmallInteger)
    efficiency: Mapped[int] = mapped_column(SmallInteger)
    service_level: Mapped[int] = mapped_column(SmallInteger)
    attitude: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rated_date: Mapped[date] = mapped_column(Date)  # agency-local
    recorded_by: Mapped[int | None] = mapped_column()  # the clerk who handed over the pad


class RectificationTask(Base):
    """The rectification (整改) a bad rating opened, with its appeal and outcome."""

    __tablename__ = "rating_tasks"
    __table_args__ = (
        UniqueConstraint("agency", "rating_id"),
        ForeignKeyConstraint(["agency", "station_code"], ["stations.agency", "stations.code"]),
        # Lists: a person's, a station's or the agency's tasks by due date (keyset on id).
        Index(None, "agency", "owner_id", "state", "due_date", "id"),
        Index(None, "agency", "station_code", "state", "due_date", "id"),
        Index(None, "agency", "state", "due_date", "id"),
        # The rates join tasks to their ratings; the unique key above leads with agency (0015).
        Index(None, "rating_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    case_no: Mapped[str] = mapped_column(String(20))
    station_code: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column()
    owner_name: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(12))
    opened_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    due_estimated: Mapped[bool] = mapped_column(default=False)
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    followed_up_date: Mapped[date | None] = mapped_column(Date)  # the first follow-up
    rectified_date: Mapped[date | None] = mapped_column(Date)
    rectification: Mapped[str | None] = mapped_column(Text)
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(10))  # uphold | dismiss (the last)
    decision_note: Mapped[str | None] = mapped_column(Text)
    closed_date: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(12))  # rectified | unfounded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class FollowUp(Base):
    """One follow-up (回访) of the person who gave a bad rating: when, how, what came of it."""

    __tablename__ = "rating_follow_ups"
    __table_args__ = (Index(None, "task_id", "followed_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_tasks.id", ondelete="CASCADE"))
    followed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(12))  # phone | visit | sms | in_person
    outcome: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column()
    recorded_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskEvent(Base):
    """One entry of a task's log: who moved it from which state to which, and why."""

    __tablename__ = "rating_task_events"
    __table_args__ = (UniqueConstraint("task_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_tasks.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(12))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
