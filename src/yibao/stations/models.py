"""Stations, towns and agencies as stored rows."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKeyConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK

STATION_KINDS = ("bureau", "fixed", "town", "village", "mobile")


class Agency(Base):
    """A healthcare-security agency (医保经办机构), known by its division code."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(50))
    region_zh: Mapped[str] = mapped_column(String(50))


class Town(Base):
    """A street (街道) or town (镇): a name stored with its code and the code's release."""

    __tablename__ = "towns"
    __table_args__ = (UniqueConstraint("agency", "code", "release"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(12))
    release: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(10))  # street | town
    distance_km: Mapped[float | None] = mapped_column(Float)
    travel_minutes: Mapped[int | None] = mapped_column(Integer)


class Station(Base):
    """A service station (医保服务站) or the bureau hall; the unit a case sits with."""

    __tablename__ = "stations"
    __table_args__ = (
        UniqueConstraint("agency", "code"),
        ForeignKeyConstraint(
            ["agency", "town_code", "town_release"], ["towns.agency", "towns.code", "towns.release"]
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    town_code: Mapped[str | None] = mapped_column(String(12))
    town_release: Mapped[str | None] = mapped_column(String(10))
    master: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(200))
    # What a citizen needs to come or call: free text ("周一至周五 8:30–12:00，14:00–17:30"; a
    # mobile station's is its visit schedule) and a number people can dial (landline or mobile).
    opening_hours: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    villages: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
