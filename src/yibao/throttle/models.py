"""Counters of requests per key and fixed window, in the node's database."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base


class RateCounter(Base):
    """Hits of one key (e.g. ``lookup:203.0.113.9``) in one fixed window of a limit."""

    __tablename__ = "rate_counters"

    agency: Mapped[str] = mapped_column(String(6), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
