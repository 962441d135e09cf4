"""The case lifecycle as a table: the only place that decides a case's next state.

Pure: imports neither SQLAlchemy nor FastAPI. ``decide`` takes a snapshot of the case, the
command and the actor, and returns the new state with the changes and the event to record, or
raises a domain error. Services persist what it returns; nothing else assigns a state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import WorkCalendar
from yibao.cases import rules
from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed


class State(StrEnum):
    """States of a case (办件状态)."""

    RECEIVED = "received"  # 已受理
    IN_PROGRESS = "in_progress"  # 办理中
    MATERIALS_PENDING = "materials_pending"  # 待补正
    FORWARDED = "forwarded"  # 已转办
    COMPLETED = "completed"  # 已办结
    REJECTED = "rejected"  # 不予受理
    WITHDRAWN = "withdrawn"  # 已撤回


class Action(StrEnum):
    """What an actor can do to a case."""

    START = "start"
    REQUEST_MATERIALS = "request_materials"
    SUPPLEMENT = "supplement"
    FORWARD = "forward"
    TAKE = "take"
    COMPLETE = "complete"
    REJECT = "reject"
    WITHDRAW = "withdraw"


S, A = State, Action

TRANSITIONS: dict[tuple[State, Action], State] = {
    (S.RECEIVED, A.START): S.IN_PROGRESS,
    (S.RECEIVED, A.REQUEST_MATERIALS): S.MATERIALS_PENDING,
    (S.IN_PROGRESS, A.REQUEST_MATERIALS): S.MATERIALS_PENDING,
    (S.MATERIALS_PENDING, A.SUPPLEMENT): S.IN_PROGRESS,
    (S.RECEIVED, A.FORWARD): S.FORWARDED,
    (S.IN_PROGRESS, A.FORWARD): S.FORWARDED,
    (S.FORWARDED, A.TAKE): S.IN_PROGRESS,
    (S.RECEIVED, A.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, A.COMPLETE): S.COMPLETED,
    (S.RECEIVED, A.REJECT): S.REJECTED,
    (S.IN_PROGRESS, A.REJECT): S.REJECTED,
    (S.MATERIALS_PENDING, A.REJECT): S.REJECTED,
    (S.RECEIVED, A.WITHDRAW): S.WITHDRAWN,
    (S.IN_PROGRESS, A.WITHDRAW): S.WITHDRAWN,
    (S.MATERIALS_PENDING, A.WITHDRAW): S.WITHDRAWN,
    (S.FORWARDED, A.WITHDRAW): S.WITHDRAWN,
}

INITIAL = S.RECEIVED
TERMINAL: frozenset[State] = frozenset({S.COMPLETED, S.REJECTED, S.WITHDRAWN})
OPEN: frozenset[State] = frozenset(State) - TERMINAL
NEEDS_REASON: frozenset[Action] = frozenset({A.REJECT, A.WITHDRAW})

# Roles that act on cases at all; visibility and the unit rule below narrow it further.
ACTING_ROLES: frozenset[str] = frozenset({"clerk", "station_master", "bureau_officer"})

# Chinese labels, shared by the API (``state_label``) and the UI.
STATE_LABELS_ZH: dict[State, str] = {
    S.RECEIVED: "已受理",
    S.IN_PROGRESS: "办理中",
    S.MATERIALS_PENDING: "待补正",
    S.FORWARDED: "已转办",
    S.COMPLETED: "已办结",
    S.REJECTED: "不予受理",
    S.WITHDRAWN: "已撤回",
}
STATE_LABELS_EN: dict[State, str] = {
    S.RECEIVED: "Received",
    S.IN_PROGRESS: "In progress",
    S.MATERIALS_PENDING: "Waiting for materials",
    S.FORWARDED: "Forwarded",
    S.COMPLETED: "Completed",
    S.REJECTED: "Rejected",
    S.WITHDRAWN: "Withdrawn",
}
ACTION_LABELS_EN: dict[Action, str] = {
    A.START: "Start",
    A.REQUEST_MATERIALS: "Request missing materials",
    A.SUPPLEMENT: "Materials supplied",
    A.FORWARD: "Forward",
    A.TAKE: "Take over",
    A.COMPLETE: "Complete",
    A.REJECT: "Reject",
    A.WITHDRAW: "Withdraw",
}
ACTION_LABELS_ZH: dict[Action, str] = {
    A.START: "开始办理",
    A.REQUEST_MATERIALS: "一次性告知补正",
    A.SUPPLEMENT: "材料已补齐",
    A.FORWARD: "转办",
    A.TAKE: "接收转办",
    A.COMPLETE: "办结",
    A.REJECT: "不予受理",
    A.WITHDRAW: "撤回",
}


@dataclass(frozen=True)
class ActorRef:
    """Who is acting: role and own unit (station code; ``None`` for agency-wide roles)."""

    role: str
    unit: str | None


@dataclass(frozen=True)
class CaseSnapshot:
    """What ``decide`` needs to know about a case."""

    state: State
    unit: str  # station code of the unit handling it now
    intake_station: str
    due_date: date
    remaining_days: int | None  # frozen working days left while the clock is paused
    materials: tuple[str, ...]  # the item's material codes
    received: tuple[str, ...]  # materials received so far
    complete_kinds: frozenset[str]  # station kinds that may complete the item


@dataclass(frozen=True)
class Command:
    """An action with its parameters, as the actor sent it."""

    action: Action
    reason: str | None = None
    missing_materials: tuple[str, ...] = ()
    to_unit: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome: the next state, the column changes, and the event detail."""

    from_state: State
    to_state: State
    changes: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def allowed_actions(state: State) -> list[Action]:
    """Actions the table allows from ``state``, in table order."""
    return [a for (s, a) in TRANSITIONS if s == state]


def may_act(actor: ActorRef, snapshot: CaseSnapshot, action: Action) -> bool:
    """Whether this actor may act on this case at all (unit rule)."""
    if actor.role not in ACTING_ROLES or actor.unit is None:
        return False
    if actor.unit == snapshot.unit:
        return True
    # The station where the person applied may still withdraw a case it forwarded.
    return action == A.WITHDRAW and actor.unit == snapshot.intake_station


def actions_for(
    actor: ActorRef, snapshot: CaseSnapshot, unit_kind: str | None = None
) -> list[Action]:
    """Actions this actor may take now: the table's, narrowed by the unit rule (for buttons).

    Given the handling unit's kind, ``complete`` is left out where that unit may not complete
    the item, as ``decide`` would refuse it.
    """
    return [
        a
        for a in allowed_actions(snapshot.state)
        if may_act(actor, snapshot, a)
        and not (
            a == Action.COMPLETE
            and unit_kind is not None
            and unit_kind not in snapshot.complete_kinds
        )
    ]


def decide(
    snapshot: CaseSnapshot,
    command: Command,
    actor: ActorRef,
    *,
    today: date,
    calendar: WorkCalendar,
    unit_kinds: Mapping[str, str],
) -> Decision:
    """Decide the effect of ``command`` on the case, or raise why it cannot happen."""
    state, action = snapshot.state, command.action
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = [a.value for a in allowed_actions(state)]
        raise ActionNotAllowed(
            f"'{action.value}' is not allowed in state '{state.value}'",
            allowed=allowed,
            state=state.value,
        )
    if not may_act(actor, snapshot, action):
        raise Forbidden(
            f"only the unit handling the case ({snapshot.unit}) may '{action.value}' it",
            unit=snapshot.unit,
        )

    reason = (command.reason or "").strip() or None
    if action in NEEDS_REASON and reason is None:
        raise ValidationFailed.single(
            "reason", "a reason is required for this action", "请填写原因"
        )

    changes: dict[str, Any] = {}
    detail: dict[str, Any] = {}

    if action == A.REQUEST_MATERIALS:
        missing = _check_missing(snapshot, command.missing_materials)
        remaining = rules.pause(calendar, today, snapshot.due_date)
        changes.update(materials_missing=list(missing), remaining_days=remaining.days)
        detail.update(missing_materials=list(missing), remaining_days=remaining.days)
    elif action == A.SUPPLEMENT:
        remaining_days = snapshot.remaining_days if snapshot.remaining_days is not None else 0
        due = rules.resume(calendar, today, remaining_days)
        received = sorted(set(snapshot.received) | set(snapshot.materials))
        changes.update(
            due_date=due.date,
            due_estimated=due.estimated,
            remaining_days=None,
            materials_missing=[],
            materials_received=received,
        )
        detail.update(due_date=due.date.isoformat(), remaining_days=remaining_days)
    elif action == A.FORWARD:
        to_unit = _check_forward_target(snapshot, command.to_unit, unit_kinds)
        changes.update(unit=to_unit)
        detail.update(from_unit=snapshot.unit, to_unit=to_unit)
    elif action == A.COMPLETE:
        kind = unit_kinds.get(snapshot.unit)
        if kind not in snapshot.complete_kinds:
            raise ActionNotAllowed(
                "this unit may not complete this item: the case must be forwarded "
                f"to a unit of kind {', '.join(sorted(snapshot.complete_kinds))}",
                allowed=[a.value for a in allowed_actions(state) if a != A.COMPLETE],
                state=state.value,
                must_forward=True,
            )
        detail.update(on_time=today <= snapshot.due_date)

    if target in TERMINAL:
        changes.update(closed_date=today)
    return Decision(state, target, changes, detail, reason)


def _check_missing(snapshot: CaseSnapshot, requested: tuple[str, ...]) -> tuple[str, ...]:
    """一次性告知: the request names every material still outstanding, and nothing unknown."""
    errors: list[FieldError] = []
    seen: list[str] = []
    for i, code in enumerate(requested):
        if code not in snapshot.materials:
            errors.append(
                FieldError(
                    f"missing_materials[{i}]",
                    f"'{code}' is not a material of this item",
                    "不是该事项的材料",
                )
            )
        elif code not in seen:
            seen.append(code)
    if errors:
        raise ValidationFailed(errors)
    outstanding = [m for m in snapshot.materials if m not in snapshot.received]
    if not outstanding and not seen:
        raise ValidationFailed.single(
            "missing_materials", "this item has no outstanding materials", "该事项没有待补的材料"
        )
    if not seen:
        raise ValidationFailed.single(
            "missing_materials",
            "list every missing material at once (一次性告知)",
            "请一次性列出全部缺少的材料",
        )
    left_out = [m for m in outstanding if m not in seen]
    if left_out:
        raise ValidationFailed.single(
            "missing_materials",
            "list every missing material at once (一次性告知); also outstanding: "
            + ", ".join(left_out),
            "须一次性告知全部缺少的材料，还缺：" + "、".join(left_out),
        )
    return tuple(seen)


def _check_forward_target(
    snapshot: CaseSnapshot, to_unit: str | None, unit_kinds: Mapping[str, str]
) -> str:
    if not to_unit or not to_unit.strip():
        raise ValidationFailed.single("to_unit", "a target unit is required", "请选择转办单位")
    code = normalize_unit(to_unit, unit_kinds)
    if code is None:
        raise ValidationFailed.single(
            "to_unit", f"unknown unit '{to_unit.strip()}'", "转办单位不存在"
        )
    if code == snapshot.unit:
        raise ValidationFailed.single(
            "to_unit", "the case is already at this unit", "办件已在该单位"
        )
    return code


def normalize_unit(raw: str, unit_kinds: Mapping[str, str]) -> str | None:
    """Map a unit as typed (a station code, any case, or ``bureau``) to a station code."""
    text = raw.strip()
    if text.lower() == "bureau":
        return next((c for c, k in unit_kinds.items() if k == "bureau"), None)
    upper = text.upper()
    return upper if upper in unit_kinds else None
