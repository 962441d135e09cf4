"""Transfers, their message log, and the outbox/inbox that carry messages between nodes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow
from yibao.sealing.types import Sealed, SealedJSON


class Transfer(Base):
    """This node's record of one transfer (the counterpart keeps its own, same ``id``)."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("agency", "id"),
        Index(None, "agency", "state", "updated_at"),
        Index(None, "agency", "case_no"),
    )

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid)  # the transfer's id on every node
    agency: Mapped[str] = mapped_column(String(6))
    role: Mapped[str] = mapped_column(String(3))  # in | out
    counterpart: Mapped[str] = mapped_column(String(6))
    agreement: Mapped[str] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(20))
    counterpart_state: Mapped[str | None] = mapped_column(String(20))
    person_id_number: Mapped[str] = mapped_column(Sealed("transfers.person_id_number"))
    person_name: Mapped[str] = mapped_column(String(50))
    person_phone: Mapped[str | None] = mapped_column(Sealed("transfers.person_phone"))
    case_no: Mapped[str | None] = mapped_column(String(20))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_date: Mapped[date] = mapped_column(Date)
    letter_date: Mapped[date | None] = mapped_column(Date)
    remitted_date: Mapped[date | None] = mapped_column(Date)
    closed_date: Mapped[date | None] = mapped_column(Date)
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    balance_fen: Mapped[int | None] = mapped_column(BigInteger)
    remitted_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    remit_reference: Mapped[str | None] = mapped_column(String(64))
    credited_fen: Mapped[int | None] = mapped_column(BigInteger)
    periods_recorded: Mapped[int | None] = mapped_column(Integer)
    refusal_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    discrepancy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    last_seq_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_seq_applied: Mapped[int] = mapped_column(Integer, default=0)  # counterpart's seq
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TransferMessage(Base):
    """Every message of a transfer as this node sent or received it (the audit trail)."""

    __tablename__ = "transfer_messages"
    __table_args__ = (
        UniqueConstraint("agency", "message_id"),
        Index(None, "agency", "transfer_id", "direction", "seq"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    direction: Mapped[str] = mapped_column(String(4))  # sent | recv
    peer: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(30))
    # The person's ID and phone numbers in the body are sealed at rest (yibao.sealing).
    body: Mapped[dict[str, Any]] = mapped_column(SealedJSON("transfer_messages.body"), default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied: Mapped[bool | None] = mapped_column()  # False: out of turn, kept without effect
    actor_name: Mapped[str] = mapped_column(String(64), default="")


class OutboxMessage(Base):
    """A message to deliver, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("agency", "message_id"),
        Index(None, "agency", "delivered_at", "dead_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    to_agency: Mapped[str] = mapped_column(String(6))
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON("outbox.payload"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class SeenNonce(Base):
    """Signature nonces already accepted: a replayed request is refused."""

    __tablename__ = "seen_nonces"
    __table_args__ = (UniqueConstraint("agency", "key_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    key_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
