"""The service catalogue as stored rows."""

from __future__ import annotations

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK


class Material(Base):
    """A kind of document a person hands in (材料)."""

    __tablename__ = "materials"
    __table_args__ = (UniqueConstraint("agency", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))


class Service(Base):
    """A catalogue item (服务事项) with its time limit and where it may be accepted/completed."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("agency", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), default="")
    time_limit_days: Mapped[int] = mapped_column(Integer)
    channel_limits: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    accept_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    complete_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    instant: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
