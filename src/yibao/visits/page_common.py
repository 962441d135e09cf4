"""What the visits pages share: labels, the readers, lenient date and time parsing."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import Query

from yibao.accounts.rules import Role
from yibao.runtime import Runtime
from yibao.web import i18n

READERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR)
STATE_LABELS = {"planned": "Planned", "done": "Visited", "cancelled": "Cancelled"}
ACTION_LABELS = {"plan": "Planned", "change": "Changed", "cancel": "Cancelled", "done": "Visited"}
FIELD_LABELS = {
    "date": "Date",
    "start": "Start",
    "end": "End",
    "village": "Village",
    "team": "Team",
}
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Q = Annotated[str | None, Query(max_length=50)]


def is_zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def parse_date(raw: str | None) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_time(raw: str | None) -> time | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        return None


def common_context(runtime: Runtime) -> dict[str, Any]:
    return {
        "state_labels": STATE_LABELS,
        "action_labels": ACTION_LABELS,
        "field_labels": FIELD_LABELS,
        "weekday_labels": WEEKDAY_LABELS,
        "today": runtime.today(),
    }
