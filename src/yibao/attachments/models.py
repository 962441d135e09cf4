"""Attached files as stored rows: the bytes live in the database, backed up with the records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, UTCDateTime, utcnow


class Attachment(Base):
    """One file (a photo, a scanned document) that belongs to one record of one slice."""

    __tablename__ = "attachments"
    __table_args__ = (Index(None, "agency", "owner_type", "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    # Which record owns it, e.g. ("lead", "<uuid>") or ("inspection_item", "<uuid>:<item>").
    owner_type: Mapped[str] = mapped_column(String(30))
    owner_id: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
