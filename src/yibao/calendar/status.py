"""Whether the node's calendar is about to run out: pure, shared by pages and the CLI."""

from __future__ import annotations

from datetime import date

from yibao.calendar.rules import WorkCalendar

# The State Council publishes next year's schedule in (late) October or November; from this
# day on, a node without it must say so.
WARN_FROM_MONTH = 11


def missing_schedule_year(calendar: WorkCalendar, today: date) -> int | None:
    """The year whose official schedule is missing and should be imported now, or None.

    The current year when it has no schedule at all; from 1 November, next year when its
    schedule has not been imported yet.
    """
    if not calendar.is_official(today.year):
        return today.year
    if today.month >= WARN_FROM_MONTH and not calendar.is_official(today.year + 1):
        return today.year + 1
    return None
