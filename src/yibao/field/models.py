"""Field mode tables: devices and receipts (central), state and the sync queue (laptop)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class FieldDevice(Base):
    """A laptop registered by ``yibao field init`` (central). Revoked: it may not sync."""

    __tablename__ = "field_devices"
    __table_args__ = (UniqueConstraint("agency", "id"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agency: Mapped[str] = mapped_column(String(6))
    user_id: Mapped[int] = mapped_column()
    username: Mapped[str] = mapped_column(String(64))
    station_code: Mapped[str | None] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class FieldReceipt(Base):
    """The central answer to one synced record, kept so a re-sent record gets the same one."""

    __tablename__ = "field_receipts"
    __table_args__ = (
        UniqueConstraint("agency", "client_id"),
        Index(None, "agency", "status", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(10))  # case | action
    status: Mapped[str] = mapped_column(String(12))  # accepted | refused | conflict
    case_no: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldState(Base):
    """The laptop's link to its central node (one row)."""

    __tablename__ = "field_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    central_url: Mapped[str] = mapped_column(String(300))
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    username: Mapped[str] = mapped_column(String(64))
    station_code: Mapped[str | None] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    key_check: Mapped[str] = mapped_column(String(64))
    device_token: Mapped[str] = mapped_column(Text)  # sealed with the field key
    initialised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    revoked: Mapped[bool] = mapped_column(default=False)


class FieldQueue(Base):
    """A record waiting for the central node's acknowledgement (laptop)."""

    __tablename__ = "field_queue"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # case | action
    local_case_no: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # ID numbers sealed inside
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # pending | acked | quarantined (refused centrally) | conflict (changed centrally)
    reason: Mapped[str | None] = mapped_column(Text)
    central_case_no: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
