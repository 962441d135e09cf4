"""Rules of four-in-place inspections (四到位): the checklist, the score, the task lifecycle. Pure.

A score is the weighted share of passed items, 0–100, for the whole checklist and per area. A
failed item becomes a rectification task (整改) for the station master; the task's lifecycle is
the table below, and ``decide`` is the only place that gives a task its next state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import WorkCalendar
from yibao.cases import rules as case_rules
from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed

DEFAULT_DEADLINE_DAYS = 10  # working days to rectify a failed item
MAX_DEADLINE_DAYS = 60
NOTE_MAX = 500
MAX_INSPECTORS = 10
MAX_AGE_DAYS = 366  # an inspection is recorded at most a year after it took place

# Who inspects (the bureau) and who rectifies (the station master).
INSPECTOR_ROLES: frozenset[str] = frozenset({"bureau_officer", "supervisor"})
STATION_ROLES: frozenset[str] = frozenset({"clerk", "station_master"})
READER_ROLES: frozenset[str] = INSPECTOR_ROLES | STATION_ROLES


class Area(StrEnum):
    """The four areas that must be in place."""

    PREMISES = "premises"  # 场所
    EQUIPMENT = "equipment"  # 设备
    NETWORK = "network"  # 网络
    STAFF = "staff"  # 人员


# ---------------------------------------------------------------- the checklist


@dataclass(frozen=True)
class Item:
    """One thing the inspector checks."""

    code: str
    area: Area
    name_zh: str
    name_en: str
    weight: int


@dataclass(frozen=True)
class AreaInfo:
    """An area with its labels and its items, in checklist order."""

    code: Area
    name_zh: str
    name_en: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Checklist:
    """The whole checklist of one version."""

    version: str
    deadline_days: int
    areas: tuple[AreaInfo, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        """Every item, area by area."""
        return tuple(i for a in self.areas for i in a.items)

    def item(self, code: str) -> Item | None:
        """The item of this code, or None."""
        return next((i for i in self.items if i.code == code), None)

    def area(self, code: str) -> AreaInfo | None:
        """The area of this code, or None."""
        return next((a for a in self.areas if a.code.value == code), None)


def parse_checklist(data: Mapping[str, Any]) -> Checklist:
    """A checklist from its file's data; ValueError on a malformed file."""
    areas: list[AreaInfo] = []
    seen: set[str] = set()
    for raw_area in data["areas"]:
        area = Area(str(raw_area["code"]))
        items: list[Item] = []
        for raw in raw_area["items"]:
            code = str(raw["code"])
            weight = int(raw["weight"])
            if code in seen:
                raise ValueError(f"item {code} listed twice")
            if weight < 1:
                raise ValueError(f"item {code} has weight {weight}; weights are positive")
            seen.add(code)
            items.append(Item(code, area, str(raw["name_zh"]), str(raw["name_en"]), weight))
        if not items:
            raise ValueError(f"area {area} has no items")
        areas.append(
            AreaInfo(area, str(raw_area["name_zh"]), str(raw_area["name_en"]), tuple(items))
        )
    if sorted(a.code for a in areas) != sorted(Area):
        raise ValueError("the checklist must hold each of the four areas exactly once")
    days = int(data.get("deadline_days", DEFAULT_DEADLINE_DAYS))
    if not 1 <= days <= MAX_DEADLINE_DAYS:
        raise ValueError(f"deadline_days must be 1..{MAX_DEADLINE_DAYS}")
    return Checklist(str(data["version"]), days, tuple(areas))


# ---------------------------------------------------------------- the score


@dataclass(frozen=True)
class Checked:
    """One checked item as the score sees it."""

    area: str
    weight: int
    passed: bool


@dataclass(frozen=True)
class Score:
    """The weighted share of passed items, overall and per area (0–100, whole points)."""

    total: int
    areas: dict[str, int]
    passed: int
    failed: int


def percent(passed_weight: int, total_weight: int) -> int:
    """100 × passed / total rounded half up to a whole point; 100 when nothing was weighed."""
    if total_weight <= 0:
        return 100
    return (200 * passed_weight + total_weight) // (2 * total_weight)


def score(checked: Iterable[Checked]) -> Score:
    """The score of an inspection from its checked items."""
    weight: dict[str, int] = {}
    good: dict[str, int] = {}
    passed = failed = 0
    for c in checked:
        weight[c.area] = weight.get(c.area, 0) + c.weight
        if c.passed:
            good[c.area] = good.get(c.area, 0) + c.weight
            passed += 1
        else:
            failed += 1
    return Score(
        total=percent(sum(good.values()), sum(weight.values())),
        areas={a: percent(good.get(a, 0), w) for a, w in weight.items()},
        passed=passed,
        failed=failed,
    )


def score_light(value: int | None) -> str | None:
    """green from 90, yellow from 75, red below; None when never inspected."""
    if value is None:
        return None
    if value >= 90:
        return "green"
    return "yellow" if value >= 75 else "red"


@dataclass(frozen=True)
class Answer:
    """One item as the inspector filled it in."""

    item: str
    passed: bool
    note: str | None = None


def check_answers(checklist: Checklist, answers: Sequence[Answer]) -> list[FieldError]:
    """Every problem with the answers: each item exactly once, known codes, a note for a fail."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, a in enumerate(answers):
        where = f"results[{i}]"
        if checklist.item(a.item) is None:
            errors.append(
                FieldError(f"{where}.item", f"unknown checklist item '{a.item}'", "未知的检查项")
            )
            continue
        if a.item in seen:
            errors.append(
                FieldError(f"{where}.item", f"item '{a.item}' answered twice", "检查项重复")
            )
        seen.add(a.item)
        note = (a.note or "").strip()
        if not a.passed and not note:
            errors.append(
                FieldError(
                    f"{where}.note",
                    "a failed item needs a note saying what is wrong",
                    "不合格项须说明问题",
                )
            )
        if len(note) > NOTE_MAX:
            errors.append(FieldError(f"{where}.note", f"at most {NOTE_MAX} characters", "说明过长"))
    missing = [i.code for i in checklist.items if i.code not in seen]
    if missing:
        errors.append(
            FieldError(
                "results",
                "every checklist item needs a result; missing: " + ", ".join(missing),
                f"还有 {len(missing)} 个检查项未填写结果",
            )
        )
    return errors


def check_date(day: date, today: date) -> list[FieldError]:
    """An inspection took place today or in the past year, not in the future."""
    if day > today:
        return [FieldError("date", "the inspection date is in the future", "检查日期不能晚于今天")]
    if (today - day).days > MAX_AGE_DAYS:
        return [
            FieldError(
                "date", f"at most {MAX_AGE_DAYS} days ago", f"检查日期不能早于 {MAX_AGE_DAYS} 天前"
            )
        ]
    return []


def deadline(calendar: WorkCalendar, inspected: date, days: int) -> tuple[date, bool]:
    """The rectification deadline: ``days`` working days after the inspection (estimated?)."""
    result = calendar.add_working_days(inspected, days)
    return result.date, result.estimated


# ---------------------------------------------------------------- the task lifecycle


class TaskState(StrEnum):
    """States of a rectification task (整改)."""

    OPEN = "open"  # 待整改
    REPORTED = "reported"  # 已报整改，待核验
    VERIFIED = "verified"  # 已核验销号 (closed)


class TaskAction(StrEnum):
    """What can happen to a task."""

    REPORT_FIXED = "report_fixed"  # the station master reports the item fixed
    VERIFY = "verify"  # the bureau confirms the fix: closed
    SEND_BACK = "send_back"  # the bureau finds it not fixed: open again


T, TA = TaskState, TaskAction

TRANSITIONS: dict[tuple[TaskState, TaskAction], TaskState] = {
    (T.OPEN, TA.REPORT_FIXED): T.REPORTED,
    (T.REPORTED, TA.VERIFY): T.VERIFIED,
    (T.REPORTED, TA.SEND_BACK): T.OPEN,
}
INITIAL = T.OPEN
TERMINAL: frozenset[TaskState] = frozenset({T.VERIFIED})
NEEDS_NOTE: frozenset[TaskAction] = frozenset({TA.REPORT_FIXED, TA.SEND_BACK})
# Who may take each action; the station master only for their own station.
ACTION_ROLES: dict[TaskAction, frozenset[str]] = {
    TA.REPORT_FIXED: frozenset({"station_master"}),
    TA.VERIFY: INSPECTOR_ROLES,
    TA.SEND_BACK: INSPECTOR_ROLES,
}

TASK_STATE_ZH: dict[TaskState, str] = {
    T.OPEN: "待整改",
    T.REPORTED: "待核验",
    T.VERIFIED: "已销号",
}
TASK_ACTION_ZH: dict[TaskAction, str] = {
    TA.REPORT_FIXED: "报告已整改",
    TA.VERIFY: "核验通过",
    TA.SEND_BACK: "退回重改",
}


@dataclass(frozen=True)
class TaskDecision:
    """The outcome of an action on a task: the next state and what to store."""

    state: TaskState
    reported_date: date | None
    closed_date: date | None
    note: str | None


def may(action: TaskAction, *, role: str, unit: str | None, station: str) -> bool:
    """Whether this role (at this unit) may take ``action`` on a task of ``station``."""
    if role not in ACTION_ROLES[action]:
        return False
    return role not in STATION_ROLES or unit == station


def actions_for(state: TaskState, *, role: str, unit: str | None, station: str) -> list[TaskAction]:
    """The actions the table allows now and this actor may take (the page draws these)."""
    return [
        a for (s, a) in TRANSITIONS if s is state and may(a, role=role, unit=unit, station=station)
    ]


def decide(
    state: TaskState,
    action: TaskAction,
    *,
    role: str,
    unit: str | None,
    station: str,
    note: str | None,
    today: date,
    reported_date: date | None,
) -> TaskDecision:
    """The next state of a task, or the reason why not."""
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = [a.value for (s, a) in TRANSITIONS if s is state]
        raise ActionNotAllowed(
            f"'{action.value}' is not allowed on a task that is {state.value}", allowed=allowed
        )
    if not may(action, role=role, unit=unit, station=station):
        raise Forbidden(f"the role '{role}' may not {action.value} this task")
    text = (note or "").strip() or None
    if action in NEEDS_NOTE and text is None:
        raise ValidationFailed.single("note", "a note is required", "请填写说明")
    if text is not None and len(text) > NOTE_MAX:
        raise ValidationFailed.single("note", f"at most {NOTE_MAX} characters", "说明过长")
    if action is TA.REPORT_FIXED:
        return TaskDecision(target, today, None, text)
    if action is TA.VERIFY:
        return TaskDecision(target, reported_date, today, text)
    return TaskDecision(target, None, None, text)  # sent back: the clock runs again


def task_light(
    calendar: WorkCalendar,
    *,
    today: date,
    deadline_date: date,
    state: TaskState,
    reported_date: date | None,
) -> case_rules.Timing:
    """The task's traffic light, as a case's: green, yellow on the last day, red after.

    A task reported fixed is judged at the day of the report (the station did its part then);
    an open one runs against today.
    """
    stopped = reported_date if state is not TaskState.OPEN else None
    return case_rules.timing(
        calendar,
        today=today,
        due_date=deadline_date,
        paused_remaining=None,
        closed_date=stopped,
    )
