"""Deadline rules of a case: due date at intake, the paused clock, and the traffic light.

Pure: the calendar arithmetic comes from ``yibao.calendar.rules``; nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from yibao.calendar.rules import CountResult, DayResult, WorkCalendar


class Light(StrEnum):
    """Traffic light of a case against its due date."""

    GREEN = "green"  # on time
    YELLOW = "yellow"  # due today (its last working day)
    RED = "red"  # overdue


class Clock(StrEnum):
    """Whether the case's clock runs."""

    RUNNING = "running"
    PAUSED = "paused"  # 补正期间不计时
    STOPPED = "stopped"  # terminal


def time_limit(limit_days: int, channel_limits: Mapping[str, int], channel: str) -> int:
    """The item's limit in working days for this channel (e.g. online filings take 1)."""
    return int(channel_limits.get(channel, limit_days))


def due_at_intake(calendar: WorkCalendar, intake_date: date, limit_days: int) -> DayResult:
    """The promised date: intake date plus the limit in working days (0 = the same day)."""
    return calendar.add_working_days(intake_date, limit_days)


def pause(calendar: WorkCalendar, today: date, due: date) -> CountResult:
    """Working days left when the clock stops (negative when already overdue)."""
    return calendar.working_days_between(today, due)


def resume(calendar: WorkCalendar, today: date, remaining_days: int) -> DayResult:
    """The new due date when the clock runs again: the remaining days counted from today."""
    return calendar.add_working_days(today, remaining_days)


@dataclass(frozen=True)
class Timing:
    """Where a case stands against its deadline, as shown on every case."""

    light: Light
    clock: Clock
    remaining_days: int  # working days left (negative: overdue by that many)
    estimated: bool


def timing(
    calendar: WorkCalendar,
    *,
    today: date,
    due_date: date,
    paused_remaining: int | None,
    closed_date: date | None,
    due_estimated: bool = False,
) -> Timing:
    """The traffic light: green before the last working day, yellow on it, red after."""
    if closed_date is not None:
        left = calendar.working_days_between(closed_date, due_date)
        clock = Clock.STOPPED
    elif paused_remaining is not None:
        left = CountResult(paused_remaining, False)
        clock = Clock.PAUSED
    else:
        left = calendar.working_days_between(today, due_date)
        clock = Clock.RUNNING
    reference = closed_date or today
    # A paused case's stored due date is stale: only its frozen working days count.
    late_on_a_day_off = clock is not Clock.PAUSED and left.days == 0 and reference > due_date
    if left.days < 0 or late_on_a_day_off:
        light = Light.RED
    elif left.days == 0:
        light = Light.YELLOW
    else:
        light = Light.GREEN
    if clock is Clock.STOPPED and light is Light.YELLOW:
        light = Light.GREEN  # finished on its last day is on time
    return Timing(light, clock, left.days, due_estimated or left.estimated)


def completes_at_intake(
    limit_days: int, station_kind: str | None, complete_kinds: Iterable[str]
) -> bool:
    """Whether a case may be taken and completed in one step (当场办结).

    Only an item done on the spot (limit 0 for its channel) at a station that may complete it:
    anything else needs the two steps, or a forward, and the clock that goes with them.
    """
    return limit_days == 0 and station_kind is not None and station_kind in set(complete_kinds)
