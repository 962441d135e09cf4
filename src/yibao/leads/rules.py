"""Rules of supervision leads (监督线索): the lifecycle table, who may see and work a lead,
the deadline, and amounts in yuan parsed exactly into fen. Pure: no storage, no HTTP.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import DayResult, WorkCalendar
from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed

SERVICE_CODE = "supervision_lead"  # the catalogue item whose limit is the lead's deadline
DEFAULT_LIMIT_DAYS = 10
MAX_FEN = 10**13  # ¥100 billion: more is a typing mistake, not a recovery


class LeadState(StrEnum):
    """States of a lead."""

    RAISED = "raised"  # 已上报
    VERIFYING = "verifying"  # 核查中
    INTERVENING = "intervening"  # 事中干预
    CONFIRMED = "confirmed"  # 查实办结
    UNFOUNDED = "unfounded"  # 不属实办结


class Action(StrEnum):
    """What a supervisor does to a lead."""

    VERIFY = "verify"  # start verifying
    INTERVENE = "intervene"  # intervene while treatment goes on, recording the actions taken
    CONFIRM = "confirm"  # close as confirmed, with the amount recovered
    DISMISS = "dismiss"  # close as unfounded


class Urgency(StrEnum):
    """How soon a lead needs a look."""

    NORMAL = "normal"
    URGENT = "urgent"


S, A = LeadState, Action

TRANSITIONS: dict[tuple[LeadState, Action], LeadState] = {
    (S.RAISED, A.VERIFY): S.VERIFYING,
    (S.VERIFYING, A.INTERVENE): S.INTERVENING,
    (S.VERIFYING, A.DISMISS): S.UNFOUNDED,
    (S.INTERVENING, A.CONFIRM): S.CONFIRMED,
    (S.INTERVENING, A.DISMISS): S.UNFOUNDED,
}

INITIAL = S.RAISED
TERMINAL: frozenset[LeadState] = frozenset({S.CONFIRMED, S.UNFOUNDED})
OPEN: frozenset[LeadState] = frozenset(LeadState) - TERMINAL

# Only supervisors work a lead; the author adds evidence and notes while it is open.
WORKING_ROLES: frozenset[str] = frozenset({"supervisor"})
RAISING_ROLES: frozenset[str] = frozenset({"clerk", "station_master"})
RAISING_KINDS: frozenset[str] = frozenset({"fixed"})  # hospital stations

STATE_LABELS_ZH: dict[LeadState, str] = {
    S.RAISED: "已上报",
    S.VERIFYING: "核查中",
    S.INTERVENING: "事中干预",
    S.CONFIRMED: "查实办结",
    S.UNFOUNDED: "不属实办结",
}
STATE_LABELS_EN: dict[LeadState, str] = {
    S.RAISED: "Raised",
    S.VERIFYING: "Verifying",
    S.INTERVENING: "Intervening",
    S.CONFIRMED: "Closed: confirmed",
    S.UNFOUNDED: "Closed: unfounded",
}
ACTION_LABELS_ZH: dict[Action, str] = {
    A.VERIFY: "开始核查",
    A.INTERVENE: "事中干预",
    A.CONFIRM: "查实办结",
    A.DISMISS: "不属实办结",
}
ACTION_LABELS_EN: dict[Action, str] = {
    A.VERIFY: "Start verifying",
    A.INTERVENE: "Intervene",
    A.CONFIRM: "Close as confirmed",
    A.DISMISS: "Close as unfounded",
}
URGENCY_LABELS_ZH: dict[Urgency, str] = {Urgency.NORMAL: "一般", Urgency.URGENT: "紧急"}


@dataclass(frozen=True)
class Command:
    """A supervisor's action with what it needs."""

    action: Action
    note: str | None = None
    actions_taken: str | None = None  # intervene: what was done (停止结算, 约谈, ...)
    amount_recovered: str | None = None  # confirm: yuan as typed, 2 decimals at most


@dataclass(frozen=True)
class Decision:
    """The next state, the column changes and the timeline detail."""

    from_state: LeadState
    to_state: LeadState
    changes: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""


# ---------------------------------------------------------------- who


def can_see(role: str, actor_id: int, raised_by: int | None) -> bool:
    """Confidential: only supervisors and the person who raised the lead see it."""
    return role == "supervisor" or (raised_by is not None and actor_id == raised_by)


def may_raise(role: str, unit_kind: str | None) -> bool:
    """Clerks and station masters of hospital stations raise leads."""
    return role in RAISING_ROLES and unit_kind in RAISING_KINDS


def may_add(role: str, actor_id: int, raised_by: int | None, state: LeadState) -> bool:
    """Evidence and notes: the author or a supervisor, while the lead is open."""
    return state in OPEN and can_see(role, actor_id, raised_by)


def allowed_actions(state: LeadState) -> list[Action]:
    """Actions the table allows from ``state``, in table order."""
    return [a for (s, a) in TRANSITIONS if s == state]


def actions_for(role: str, state: LeadState) -> list[Action]:
    """The buttons a person sees: the table's actions, for supervisors only."""
    return allowed_actions(state) if role in WORKING_ROLES else []


# ---------------------------------------------------------------- deciding


def decide(state: LeadState, command: Command, *, role: str, today: date) -> Decision:
    """The effect of ``command`` on a lead in ``state``, or the reason it cannot happen."""
    target = TRANSITIONS.get((state, command.action))
    if target is None:
        raise ActionNotAllowed(
            f"'{command.action.value}' is not allowed in state '{state.value}'",
            allowed=[a.value for a in allowed_actions(state)],
            state=state.value,
        )
    if role not in WORKING_ROLES:
        raise Forbidden("only a supervisor works a lead")
    errors: list[FieldError] = []
    note = (command.note or "").strip()
    if not note:
        errors.append(FieldError("note", "a note is required for every step", "请填写说明"))
    changes: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    if command.action is A.INTERVENE:
        taken = (command.actions_taken or "").strip()
        if not taken:
            errors.append(
                FieldError("actions_taken", "record the actions taken", "请填写采取的干预措施")
            )
        changes["actions_taken"] = taken
        detail["actions_taken"] = taken
    elif command.action is A.CONFIRM:
        try:
            fen = parse_yuan(command.amount_recovered, field="amount_recovered")
            changes["amount_recovered_fen"] = fen
            detail["amount_recovered_fen"] = fen
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    if target in TERMINAL:
        changes["closed_date"] = today
    return Decision(state, target, changes, detail, note)


# ---------------------------------------------------------------- deadline


def due_date(calendar: WorkCalendar, raised_date: date, limit_days: int) -> DayResult:
    """Raised date plus the limit in working days of the official calendar."""
    return calendar.add_working_days(raised_date, limit_days)


# ---------------------------------------------------------------- money

_YUAN = re.compile(r"^(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?$")


def parse_yuan(raw: str | None, *, field: str = "amount") -> int:
    """An amount typed in yuan (``1234.5``, ``1,234.56``, ``¥80``) as integer fen, exactly.

    Never through float: ``0.29`` is 29 fen. More than 2 decimals, a sign, letters or an
    absurd size are refused on ``field``.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    for prefix in ("¥", "￥", "RMB", "CNY"):
        if text.upper().startswith(prefix):
            text = text[len(prefix) :].strip()
    for suffix in ("元",):
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
    if not text:
        raise ValidationFailed.single(field, "enter the amount in yuan", "请填写金额（元）")
    match = _YUAN.match(text)
    if match is None:
        raise ValidationFailed.single(
            field,
            "an amount in yuan with at most 2 decimals, e.g. 1234.56",
            "金额须为元，最多两位小数，如 1234.56",
        )
    whole = int(match["int"].replace(",", ""))
    frac = (match["frac"] or "").ljust(2, "0")
    fen = whole * 100 + int(frac or "0")
    if fen >= MAX_FEN:
        raise ValidationFailed.single(field, "the amount is too large", "金额过大")
    return fen


def format_fen(fen: int | None) -> str:
    """Fen as yuan with two decimals and thousands separators: ``12,345.60``."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def hospital_of(station_name: str) -> str:
    """The hospital a fixed station sits in, from the station's name (…医院医保服务站)."""
    name = station_name.strip()
    for suffix in ("医保服务站", "服务站"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
