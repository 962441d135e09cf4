"""Stored rows of questionnaires: templates, their versions, responses and their answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db import Base, BigIntPK, UTCDateTime, utcnow


class QuestionnaireTemplate(Base):
    """A questionnaire (问卷) known by its code; its content lives in its versions."""

    __tablename__ = "questionnaire_templates"
    __table_args__ = (UniqueConstraint("agency", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))  # awareness | procedure | evaluation
    title: Mapped[str] = mapped_column(String(100))  # of the newest version
    # The version answers are taken with now (None: none published, or retired).
    current_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionnaireVersion(Base):
    """One version of a template; published content never changes (answers refer to it)."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    template_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_templates.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))  # draft | published | retired
    title: Mapped[str] = mapped_column(String(100))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # rules.Definition.as_dict()
    note: Mapped[str | None] = mapped_column(Text)  # what changed
    created_by: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuestionnaireResponse(Base):
    """One person's answers to one version. Anonymous unless the person agreed to link a case.

    The id is made by the client that took it (a field laptop, the public form's token), so a
    response sent twice is stored once.
    """

    __tablename__ = "questionnaire_responses"
    __table_args__ = (
        Index(None, "agency", "version_id", "answered_at"),
        Index(
            "ix_qresp_agency_version_station_date",
            "agency",
            "version_id",
            "station_code",
            "answered_date",
        ),
        Index(
            "ix_qresp_agency_version_town_date",
            "agency",
            "version_id",
            "town_code",
            "answered_date",
        ),
        Index(None, "agency", "case_no"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    agency: Mapped[str] = mapped_column(String(6))
    template_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_templates.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))  # window | mobile | qr
    station_code: Mapped[str | None] = mapped_column(String(16))
    town_code: Mapped[str | None] = mapped_column(String(12))
    town_release: Mapped[str | None] = mapped_column(String(10))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    case_no: Mapped[str | None] = mapped_column(String(20))  # only with consent
    taken_by: Mapped[int | None] = mapped_column()  # the clerk; None on the phone
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_date: Mapped[date] = mapped_column(Date)  # agency-local
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionnaireAnswer(Base):
    """One answer item of a response, for counting in SQL: a chosen option (one row per option
    of a multiple choice), a scale point, or a text."""

    __tablename__ = "questionnaire_answers"
    __table_args__ = (
        Index(None, "response_id"),
        Index(None, "agency", "version_id", "question"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(6))
    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE")
    )
    version_id: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(String(32))
    choice: Mapped[str | None] = mapped_column(String(32))
    scale: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
