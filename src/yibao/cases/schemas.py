"""Input shapes of the case use cases (validated by Pydantic, checked further by the rules)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

CHANNELS = ("window", "mobile", "online", "phone")


class ApplicantIn(BaseModel):
    """The person the case is for."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(max_length=40, description="GB 11643 ID number (18, or legacy 15)")
    name: str = Field(max_length=60)
    phone: str = Field(max_length=30)


class IntakeIn(BaseModel):
    """A new case as a station takes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service_code: str = Field(max_length=40)
    station_code: str = Field(max_length=16)
    channel: str = Field(max_length=10, description="window | mobile | online | phone")
    applicant: ApplicantIn
    materials: list[str] = Field(default_factory=list, max_length=20)
    note: str | None = Field(default=None, max_length=1000)
    captured_at: datetime | None = Field(
        default=None, description="capture time of a case taken offline; not in the future"
    )
    visit_id: uuid.UUID | None = Field(
        default=None, description="the mobile visit (of this station, on the capture date)"
    )
    complete_now: bool = Field(
        default=False,
        description="take and complete in one step (当场办结): only an item with time limit 0 "
        "for this channel, at a station that may complete it",
    )


class ActionIn(BaseModel):
    """An action on a case, carrying the version the actor saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: str = Field(max_length=30)
    version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=1000)
    missing_materials: list[str] | None = Field(default=None, max_length=20)
    to_unit: str | None = Field(default=None, max_length=16)
