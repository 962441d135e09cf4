"""Rules of disputes (矛盾化解): the lifecycle table, the parties, who may act, the deadline
and its traffic light. Pure: no storage, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import DayResult, WorkCalendar
from yibao.cases import rules as case_rules
from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed

SERVICE_CODE = "complaint"  # the catalogue item whose limit is a dispute's default deadline
DEFAULT_LIMIT_DAYS = 15
MAX_LIMIT_DAYS = 60


class DisputeState(StrEnum):
    """States of a dispute."""

    OPEN = "open"  # 已登记
    MEDIATING = "mediating"  # 调解中
    AGREED = "agreed"  # 调解成功
    ESCALATED = "escalated"  # 已移交
    WITHDRAWN = "withdrawn"  # 已撤回


class Action(StrEnum):
    """What the station or the bureau does to a dispute."""

    MEDIATE = "mediate"  # start mediating (also implied by recording the first session)
    AGREE = "agree"  # the parties agreed: the terms
    ESCALATE = "escalate"  # handed on: to whom
    WITHDRAW = "withdraw"  # withdrawn: by which party


class Party(StrEnum):
    """The three parties of the hospital–insurance–patient channel."""

    HOSPITAL = "hospital"
    INSURER = "insurer"
    PATIENT = "patient"


S, A = DisputeState, Action

TRANSITIONS: dict[tuple[DisputeState, Action], DisputeState] = {
    (S.OPEN, A.MEDIATE): S.MEDIATING,
    (S.OPEN, A.WITHDRAW): S.WITHDRAWN,
    (S.MEDIATING, A.AGREE): S.AGREED,
    (S.MEDIATING, A.ESCALATE): S.ESCALATED,
    (S.MEDIATING, A.WITHDRAW): S.WITHDRAWN,
}

INITIAL = S.OPEN
TERMINAL: frozenset[DisputeState] = frozenset({S.AGREED, S.ESCALATED, S.WITHDRAWN})
OPEN_STATES: frozenset[DisputeState] = frozenset(DisputeState) - TERMINAL
# Sessions are recorded while the dispute is open or being mediated.
SESSION_STATES: frozenset[DisputeState] = OPEN_STATES

STATION_ROLES: frozenset[str] = frozenset({"clerk", "station_master"})
AGENCY_ACTING: frozenset[str] = frozenset({"bureau_officer"})
READ_ONLY: frozenset[str] = frozenset({"supervisor"})

STATE_LABELS_ZH: dict[DisputeState, str] = {
    S.OPEN: "已登记",
    S.MEDIATING: "调解中",
    S.AGREED: "调解成功",
    S.ESCALATED: "已移交",
    S.WITHDRAWN: "已撤回",
}
STATE_LABELS_EN: dict[DisputeState, str] = {
    S.OPEN: "Open",
    S.MEDIATING: "Mediating",
    S.AGREED: "Agreed",
    S.ESCALATED: "Escalated",
    S.WITHDRAWN: "Withdrawn",
}
ACTION_LABELS_ZH: dict[Action, str] = {
    A.MEDIATE: "开始调解",
    A.AGREE: "达成协议",
    A.ESCALATE: "移交处理",
    A.WITHDRAW: "撤回",
}
ACTION_LABELS_EN: dict[Action, str] = {
    A.MEDIATE: "Start mediation",
    A.AGREE: "Record the agreement",
    A.ESCALATE: "Escalate",
    A.WITHDRAW: "Withdraw",
}
PARTY_LABELS_ZH: dict[Party, str] = {
    Party.HOSPITAL: "医院",
    Party.INSURER: "医保",
    Party.PATIENT: "患者",
}
PARTY_LABELS_EN: dict[Party, str] = {
    Party.HOSPITAL: "Hospital",
    Party.INSURER: "Insurer",
    Party.PATIENT: "Patient",
}


@dataclass(frozen=True)
class Command:
    """An action with what it needs."""

    action: Action
    note: str | None = None
    terms: str | None = None  # agree
    escalated_to: str | None = None  # escalate
    withdrawn_by: str | None = None  # withdraw: a party


@dataclass(frozen=True)
class Decision:
    """The next state, the column changes and the timeline detail."""

    from_state: DisputeState
    to_state: DisputeState
    changes: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


# ---------------------------------------------------------------- who


def can_read(role: str, unit: str | None, station: str) -> bool:
    """Station staff see their station's disputes; officers and supervisors the agency's."""
    if role in STATION_ROLES:
        return unit is not None and unit == station
    return role in AGENCY_ACTING or role in READ_ONLY


def can_act(role: str, unit: str | None, station: str) -> bool:
    """Station staff of the opening station and bureau officers work a dispute; supervisors read."""
    if role in STATION_ROLES:
        return unit is not None and unit == station
    return role in AGENCY_ACTING


def may_open(role: str, unit: str | None) -> bool:
    """Clerks and station masters (any station) and bureau officers open disputes."""
    return (role in STATION_ROLES and unit is not None) or role in AGENCY_ACTING


def allowed_actions(state: DisputeState) -> list[Action]:
    """Actions the table allows from ``state``, in table order."""
    return [a for (s, a) in TRANSITIONS if s == state]


def actions_for(role: str, unit: str | None, station: str, state: DisputeState) -> list[Action]:
    """The buttons a person sees: the table's actions, for those who may act."""
    return allowed_actions(state) if can_act(role, unit, station) else []


# ---------------------------------------------------------------- deciding


def decide(
    state: DisputeState,
    command: Command,
    *,
    role: str,
    unit: str | None,
    station: str,
    today: date,
) -> Decision:
    """The effect of ``command`` on a dispute in ``state``, or the reason it cannot happen."""
    target = TRANSITIONS.get((state, command.action))
    if target is None:
        raise ActionNotAllowed(
            f"'{command.action.value}' is not allowed in state '{state.value}'",
            allowed=[a.value for a in allowed_actions(state)],
            state=state.value,
        )
    if not can_act(role, unit, station):
        raise Forbidden("only the opening station's staff and bureau officers act on a dispute")
    changes: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    errors: list[FieldError] = []
    if command.action is A.AGREE:
        terms = (command.terms or "").strip()
        if not terms:
            errors.append(FieldError("terms", "write down the agreed terms", "请填写协议内容"))
        changes["terms"] = terms
        detail["terms"] = terms
    elif command.action is A.ESCALATE:
        to = (command.escalated_to or "").strip()
        if not to:
            errors.append(
                FieldError("escalated_to", "to whom is it handed on", "请填写移交单位或部门")
            )
        changes["escalated_to"] = to
        detail["escalated_to"] = to
    elif command.action is A.WITHDRAW:
        by = (command.withdrawn_by or "").strip()
        if by not in {p.value for p in Party}:
            errors.append(
                FieldError(
                    "withdrawn_by",
                    "which party withdrew: hospital, insurer or patient",
                    "请选择撤回的一方",
                )
            )
        changes["withdrawn_by"] = by
        detail["withdrawn_by"] = by
    if errors:
        raise ValidationFailed(errors)
    if target in TERMINAL:
        changes["closed_date"] = today
    note = (command.note or "").strip() or None
    return Decision(state, target, changes, detail, note)


def check_session(
    present: Iterable[str], statements: dict[str, str], mediator: str
) -> list[FieldError]:
    """A session names its mediator and who took part; only those present make statements."""
    errors: list[FieldError] = []
    names = {p.value for p in Party}
    seen = list(present)
    for p in seen:
        if p not in names:
            errors.append(FieldError("parties_present", f"unknown party '{p}'", "未知的当事方"))
    if not seen:
        errors.append(
            FieldError("parties_present", "who took part in the session", "请选择到场的当事方")
        )
    if not mediator.strip():
        errors.append(FieldError("mediator", "who mediated", "请填写调解员"))
    for party, text in statements.items():
        if party not in names:
            errors.append(FieldError(f"statements.{party}", "unknown party", "未知的当事方"))
        elif text.strip() and party not in seen:
            errors.append(
                FieldError(
                    f"statements.{party}",
                    "a party that did not take part made no statement",
                    "未到场的当事方不能有陈述",
                )
            )
    return errors


# ---------------------------------------------------------------- deadline


def due_date(calendar: WorkCalendar, opened: date, limit_days: int) -> DayResult:
    """Opened date plus the limit in working days of the official calendar."""
    return calendar.add_working_days(opened, limit_days)


def timing(
    calendar: WorkCalendar,
    *,
    today: date,
    due: date,
    closed: date | None,
    estimated: bool = False,
) -> case_rules.Timing:
    """The traffic light as for cases: green, yellow on the last working day, red after."""
    return case_rules.timing(
        calendar,
        today=today,
        due_date=due,
        paused_remaining=None,
        closed_date=closed,
        due_estimated=estimated,
    )
