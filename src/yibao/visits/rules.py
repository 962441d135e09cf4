"""Rules of mobile visits: states, time windows, which visit a case belongs to. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar

DEFAULT_STALE_DAYS = 30  # a village not visited for this many days is listed for the bureau
DEFAULT_BACKLOG_DAYS = 14  # upcoming visits whose backlog the visits page shows
DAY_START = time(9, 0)
DAY_END = time(17, 0)
# Two villages a day: the morning one, a lunch break, the afternoon one.
TWO_WINDOWS = ((time(9, 0), time(12, 0)), (time(13, 30), time(16, 30)))

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class VisitState(StrEnum):
    """States of a visit."""

    PLANNED = "planned"  # 计划
    DONE = "done"  # 已到访
    CANCELLED = "cancelled"  # 已取消


STATE_LABELS_ZH: dict[VisitState, str] = {
    VisitState.PLANNED: "计划",
    VisitState.DONE: "已到访",
    VisitState.CANCELLED: "已取消",
}

# What each action of a visit's log is, for the timeline.
ACTIONS = ("plan", "change", "cancel", "done")


def slot_window(slot: int, capacity: int = 2) -> tuple[time, time]:
    """The default time window of a team's ``slot``-th village of the day (0: the first)."""
    if capacity <= 2:
        return TWO_WINDOWS[min(slot, 1)]
    minutes = (DAY_END.hour - DAY_START.hour) * 60 // capacity
    slot = min(slot, capacity - 1)
    begin = datetime.combine(date.min, DAY_START) + timedelta(minutes=slot * minutes)
    return begin.time(), (begin + timedelta(minutes=minutes)).time()


def window_problem(start: time, end: time) -> tuple[str, str] | None:
    """What is wrong with a time window, as (English, Chinese), or None."""
    if end <= start:
        return "the end is not after the start", "结束时间须晚于开始时间"
    return None


Key = TypeVar("Key")


@dataclass(frozen=True)
class Window:
    """A visit as the attribution sees it: its key and its time window."""

    key: object
    start: time
    end: time


def attribute(moment: time, windows: Sequence[Window]) -> object | None:
    """The visit of the day a case captured at local ``moment`` belongs to.

    The visit whose window holds the moment; otherwise the nearest window (a case taken while
    packing up belongs to the visit just ended); None when the station made no visit that day.
    """
    if not windows:
        return None
    ordered = sorted(windows, key=lambda w: (w.start, w.end, str(w.key)))
    for w in ordered:
        if w.start <= moment <= w.end:
            return w.key

    def distance(w: Window) -> int:
        m = moment.hour * 60 + moment.minute
        lo = w.start.hour * 60 + w.start.minute
        hi = w.end.hour * 60 + w.end.minute
        return lo - m if m < lo else m - hi

    return min(ordered, key=distance).key


def days_since(last: date | None, today: date) -> int | None:
    """Days from the last visit to today; None when never visited."""
    return None if last is None else (today - last).days


def is_stale(last: date | None, today: date, days: int) -> bool:
    """Whether the ``days`` days ending today hold no visit (never visited: stale)."""
    return last is None or (today - last).days >= days


def split_evenly(count: float, keys: Sequence[Key]) -> dict[Key, float]:
    """``count`` shared equally among ``keys`` (an unattributed day's cases among its visits)."""
    if not keys:
        return {}
    share = count / len(keys)
    out: dict[Key, float] = {}
    for k in keys:
        out[k] = out.get(k, 0.0) + share
    return out


def weekday_label(day: date, zh: bool) -> str:
    """周一 … 周日, or Mon … Sun."""
    return (WEEKDAYS_ZH if zh else WEEKDAYS_EN)[day.weekday()]


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def merge_demand(*parts: Mapping[Key, float]) -> dict[Key, float]:
    """Sum several demand maps."""
    out: dict[Key, float] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out


def home_village(kind: str, villages: Sequence[str], address: str | None) -> str | None:
    """The village a village station stands in: the one of its villages its address names,
    else the first it serves; None for other kinds (their way is their town's)."""
    if kind != "village" or not villages:
        return None
    named = [v for v in villages if address and v in address]
    return named[0] if named else villages[0]


def village_choice(
    villages: Sequence[tuple[str, str, str]], *, town: str | None, query: str | None
) -> list[tuple[str, str, str]]:
    """The villages (town code, town name, village) a citizen picks from: those of the town
    chosen first (by code or name), narrowed by a search on the village's or town's name."""
    town = (town or "").strip()
    words = (query or "").split()
    out = []
    for code, town_name, name in villages:
        if town and town not in (code, town_name):
            continue
        if all(w in name or w in town_name for w in words):
            out.append((code, town_name, name))
    return out
