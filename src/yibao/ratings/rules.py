"""好差评 rules: rating levels and indicators, and the rectification task's lifecycle. Pure.

A rating scores a finished case once (一事一评) on five levels for the overall impression and
for each window indicator. A bad overall (2 or 1) opens a rectification task owned by whoever
handled the case (谁办理、谁负责), due in N working days. The task's lifecycle is the table
``TRANSITIONS``; who may take each action is ``MAY``; ``decide`` is the only place that picks
the next state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import DayResult, WorkCalendar
from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed
from yibao.text import has_control

# ---------------------------------------------------------------- ratings

LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Fairly satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
# The window indicators (窗口评价指标), in the order the forms ask them.
INDICATORS: dict[str, tuple[str, str]] = {
    "overall": ("总体评价", "Overall"),
    "efficiency": ("办事效率", "Efficiency"),
    "service_level": ("服务水平", "Service level"),
    "attitude": ("服务态度", "Attitude"),
}
BAD_AT_MOST = 2  # an overall level of 2 or 1 is a bad rating (差评)
SATISFIED_AT_LEAST = 4
COMMENT_MAX = 300
DEFAULT_RECTIFY_DAYS = 5


class Channel(StrEnum):
    """Where the rating was given."""

    PHONE = "phone"  # the citizen's phone, from the receipt's QR code
    PAD = "pad"  # the evaluation pad at the window


CHANNEL_LABELS: dict[Channel, tuple[str, str]] = {
    Channel.PHONE: ("手机扫码", "Phone"),
    Channel.PAD: ("窗口评价器", "Window pad"),
}


@dataclass(frozen=True)
class Scores:
    """A checked rating: each indicator 1–5 and the comment (stripped, or None)."""

    overall: int
    efficiency: int
    service_level: int
    attitude: int
    comment: str | None

    @property
    def bad(self) -> bool:
        """Whether the rating opens a rectification task."""
        return is_bad(self.overall)


def case_no_ok(case_no: str) -> bool:
    """A plausible case number (digits, or a laptop's L + digits); anything else is unknown."""
    return 1 <= len(case_no) <= 20 and case_no.isascii() and case_no.isalnum()


def is_bad(overall: int) -> bool:
    """A bad rating (差评): overall 2 or 1."""
    return overall <= BAD_AT_MOST


def is_satisfied(overall: int) -> bool:
    """Satisfied: overall 4 (满意) or 5 (非常满意)."""
    return overall >= SATISFIED_AT_LEAST


def _level(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        # ASCII only: str.isdigit() also says yes to "¹", which int() refuses (was a 500).
        if len(raw.strip()) > 2:
            return None
        value = int(raw.strip())
    else:
        return None
    return value if value in LEVELS else None


def check_scores(raw: Mapping[str, Any]) -> Scores:
    """The rating of a form or a JSON body, or every field that is wrong (in Chinese too)."""
    errors: list[FieldError] = []
    levels: dict[str, int] = {}
    for name, (zh, _en) in INDICATORS.items():
        value = _level(raw.get(name))
        if value is None:
            errors.append(FieldError(name, "choose a level from 1 to 5", f"请选择{zh}（1–5）"))
        else:
            levels[name] = value
    comment_raw = raw.get("comment")
    comment: str | None = None
    if comment_raw is not None and not isinstance(comment_raw, str):
        errors.append(FieldError("comment", "the comment must be text", "意见须为文字"))
    elif comment_raw is not None:
        comment = comment_raw.strip() or None
        if comment is not None and len(comment) > COMMENT_MAX:
            errors.append(
                FieldError(
                    "comment",
                    f"at most {COMMENT_MAX} characters",
                    f"意见最多 {COMMENT_MAX} 字",
                )
            )
        if comment is not None and has_control(comment):
            errors.append(FieldError("comment", "control characters", "意见含有无效字符"))
    if errors:
        raise ValidationFailed(errors)
    return Scores(
        overall=levels["overall"],
        efficiency=levels["efficiency"],
        service_level=levels["service_level"],
        attitude=levels["attitude"],
        comment=comment,
    )


def rectify_due(calendar: WorkCalendar, rated_on: date, days: int) -> DayResult:
    """The rectification deadline: ``days`` working days after the day of the rating."""
    return calendar.add_working_days(rated_on, max(days, 0))


def on_time(rectified_on: date | None, due: date) -> bool:
    """Rectified on or before the due date."""
    return rectified_on is not None and rectified_on <= due


def overdue(state: TaskState, due: date, today: date) -> bool:
    """An open task (not yet rectified) past its due date."""
    return state in (TaskState.OPEN, TaskState.APPEALED) and today > due


# ---------------------------------------------------------------- rectification tasks


class TaskState(StrEnum):
    """States of a rectification task (整改)."""

    OPEN = "open"  # 待整改
    APPEALED = "appealed"  # 申诉中
    RECTIFIED = "rectified"  # 已整改（待审核）
    CLOSED = "closed"  # 已办结


class TaskAction(StrEnum):
    """What can be done to a task."""

    FOLLOW_UP = "follow_up"  # record a 回访
    RECTIFY = "rectify"  # report the rectification
    CLOSE = "close"  # accept the rectification
    APPEAL = "appeal"  # the rating was unfounded (申诉)
    UPHOLD = "uphold"  # the supervisor agrees: closed as unfounded
    DISMISS = "dismiss"  # the supervisor disagrees: back to open


class Standing(StrEnum):
    """How an actor stands to a task; MAY lists which standings may take each action."""

    OWNER = "owner"  # the person who handled the case
    MASTER = "master"  # the station master of the task's station
    BUREAU = "bureau"  # a bureau officer
    SUPERVISOR = "supervisor"


S, A = TaskState, TaskAction

TRANSITIONS: dict[tuple[TaskState, TaskAction], TaskState] = {
    (S.OPEN, A.FOLLOW_UP): S.OPEN,
    (S.APPEALED, A.FOLLOW_UP): S.APPEALED,
    (S.OPEN, A.RECTIFY): S.RECTIFIED,
    (S.RECTIFIED, A.CLOSE): S.CLOSED,
    (S.OPEN, A.APPEAL): S.APPEALED,
    (S.APPEALED, A.UPHOLD): S.CLOSED,
    (S.APPEALED, A.DISMISS): S.OPEN,
}
INITIAL = S.OPEN
TERMINAL: frozenset[TaskState] = frozenset({S.CLOSED})
_STAFF = frozenset({Standing.OWNER, Standing.MASTER, Standing.BUREAU})
MAY: dict[TaskAction, frozenset[Standing]] = {
    A.FOLLOW_UP: _STAFF,
    A.RECTIFY: _STAFF,
    # Accepting a rectification is someone else's review: not the owner's own.
    A.CLOSE: frozenset({Standing.MASTER, Standing.BUREAU, Standing.SUPERVISOR}),
    A.APPEAL: _STAFF,
    A.UPHOLD: frozenset({Standing.SUPERVISOR}),
    A.DISMISS: frozenset({Standing.SUPERVISOR}),
}
NEEDS_NOTE: dict[TaskAction, tuple[str, str, str]] = {
    # action: (field, English, Chinese)
    A.RECTIFY: ("note", "describe what was rectified", "请填写整改情况"),
    A.APPEAL: ("note", "give the grounds of the appeal", "请填写申诉理由"),
    A.UPHOLD: ("note", "give the reason of the decision", "请填写裁定理由"),
    A.DISMISS: ("note", "give the reason of the decision", "请填写裁定理由"),
}
NOTE_MAX = 1000


class FollowUpMethod(StrEnum):
    """How the person was followed up (回访方式)."""

    PHONE = "phone"
    VISIT = "visit"
    SMS = "sms"
    IN_PERSON = "in_person"


FOLLOW_UP_LABELS: dict[FollowUpMethod, tuple[str, str]] = {
    FollowUpMethod.PHONE: ("电话回访", "Phone call"),
    FollowUpMethod.VISIT: ("上门回访", "Home visit"),
    FollowUpMethod.SMS: ("短信回访", "Text message"),
    FollowUpMethod.IN_PERSON: ("当面回访", "In person"),
}
STATE_LABELS: dict[TaskState, tuple[str, str]] = {
    S.OPEN: ("待整改", "Open"),
    S.APPEALED: ("申诉中", "Appealed"),
    S.RECTIFIED: ("已整改", "Rectified"),
    S.CLOSED: ("已办结", "Closed"),
}
ACTION_LABELS: dict[TaskAction, tuple[str, str]] = {
    A.FOLLOW_UP: ("回访", "Follow up"),
    A.RECTIFY: ("提交整改", "Report rectification"),
    A.CLOSE: ("审核通过", "Accept and close"),
    A.APPEAL: ("申诉", "Appeal"),
    A.UPHOLD: ("申诉成立", "Uphold the appeal"),
    A.DISMISS: ("驳回申诉", "Dismiss the appeal"),
}


@dataclass(frozen=True)
class TaskSnapshot:
    """What the lifecycle needs to know of a stored task."""

    state: TaskState
    due_date: date
    follow_ups: int


@dataclass(frozen=True)
class TaskDecision:
    """The next state, the columns to change and the outcome of a closing action."""

    from_state: TaskState
    to_state: TaskState
    changes: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


def allowed(state: TaskState) -> list[TaskAction]:
    """Actions the table allows from ``state``, in table order."""
    return [a for (s, a) in TRANSITIONS if s == state]


def actions_for(state: TaskState, standings: Iterable[Standing]) -> list[TaskAction]:
    """Actions this actor may take now (for the buttons): the table's, narrowed by MAY."""
    mine = set(standings)
    return [a for a in allowed(state) if MAY[a] & mine]


def decide(
    task: TaskSnapshot,
    action: TaskAction,
    standings: Iterable[Standing],
    *,
    today: date,
    note: str | None = None,
) -> TaskDecision:
    """The effect of ``action`` on the task, or the reason it cannot happen."""
    target = TRANSITIONS.get((task.state, action))
    if target is None:
        raise ActionNotAllowed(
            f"'{action.value}' is not allowed in state '{task.state.value}'",
            allowed=[a.value for a in allowed(task.state)],
            state=task.state.value,
        )
    if not MAY[action] & set(standings):
        who = ", ".join(sorted(s.value for s in MAY[action]))
        raise Forbidden(f"only {who} may '{action.value}' this task", action=action.value)
    text = (note or "").strip() or None
    if text is not None and has_control(text):
        raise ValidationFailed.single("note", "control characters", "含有无效字符")
    if text is not None and len(text) > NOTE_MAX:
        raise ValidationFailed.single("note", f"at most {NOTE_MAX} characters", "最多 1000 字")
    if action in NEEDS_NOTE and text is None:
        name, en, zh = NEEDS_NOTE[action]
        raise ValidationFailed.single(name, en, zh)
    changes: dict[str, Any] = {}
    if action == A.RECTIFY:
        if task.follow_ups < 1:
            raise ValidationFailed.single(
                "follow_up",
                "record a follow-up (回访) with the person before reporting the rectification",
                "提交整改前须先登记回访记录",
            )
        changes.update(rectified_date=today, rectification=text)
    elif action == A.APPEAL:
        changes.update(appeal_reason=text)
    elif action in (A.UPHOLD, A.DISMISS):
        changes.update(decision=action.value, decision_note=text)
    if target in TERMINAL:
        changes.update(
            closed_date=today,
            outcome="unfounded" if action == A.UPHOLD else "rectified",
        )
    return TaskDecision(task.state, target, changes, text)
