"""Official working-day schedules as stored rows (a national reference table: no agency key)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, UTCDateTime, utcnow


class CalendarYear(Base):
    """A year whose official schedule (国务院节假日安排) is known."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(Base):
    """An exception to the weekday rule: a weekday off, or a weekend make-up working day."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_years.year", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
