"""What every report row shows about a set of cases, and the SQL aggregates behind it.

Counts come from SQL aggregates grouped by station, item, clerk or day; only the median needs
the (intake date, closed date) pairs of completed cases, and those arrive already grouped with
a count, so a busy period costs one row per distinct pair rather than one per case.

A station's cases are the cases taken at it (``intake_station``), wherever they are handled
now: a reimbursement taken at a hospital station and finished by the bureau hall counts for
the hospital station, since that is where the person was promised a date. "Open", "due today"
and "overdue" are counted today; intake, completions, the on-time rate and the median days
count within the period (completions by the day they closed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from yibao.calendar.rules import WorkCalendar
from yibao.cases.lifecycle import OPEN, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.queries import overdue_clause
from yibao.cases.service import RUNNING
from yibao.reports.period import Period
from yibao.runtime import Runtime

# Traffic lights (local defaults, not rules of the lifecycle): an on-time rate at or above
# GREEN_RATE is green, at or above YELLOW_RATE yellow; an overdue share of open cases at or
# below YELLOW_OVERDUE_SHARE is yellow, above it red, and none at all green.
GREEN_RATE = 0.95
YELLOW_RATE = 0.85
YELLOW_OVERDUE_SHARE = 0.10

OPEN_STATES = tuple(s.value for s in OPEN)
COMPLETED = State.COMPLETED.value
PENDING = State.MATERIALS_PENDING.value
# ---------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Measures:
    """What every report row shows about a set of cases."""

    intake: int = 0  # taken in the period
    open: int = 0  # open today
    open_elsewhere: int = 0  # of those, sitting with another unit (forwarded on)
    due_today: int = 0  # running and due today
    overdue: int = 0  # overdue today
    completed: int = 0  # completed in the period
    on_time: int = 0  # of those, closed on or before the due date
    median_days: float | None = None  # working days from intake to completion

    @property
    def on_time_rate(self) -> float | None:
        """Completed on time / completed, or None when nothing was completed."""
        return self.on_time / self.completed if self.completed else None

    @property
    def rate_light(self) -> str | None:
        """Traffic light of the on-time rate."""
        return rate_light(self.on_time_rate)

    @property
    def overdue_light(self) -> str:
        """Traffic light of the overdue count against the open cases."""
        return overdue_light(self.overdue, self.open)


def rate_light(rate: float | None) -> str | None:
    """green / yellow / red for an on-time rate; None when there is no rate."""
    if rate is None:
        return None
    if rate >= GREEN_RATE:
        return "green"
    return "yellow" if rate >= YELLOW_RATE else "red"


def overdue_light(overdue: int, open_cases: int) -> str:
    """green when nothing is overdue, yellow for a small share of the open cases, else red."""
    if overdue <= 0:
        return "green"
    share = overdue / open_cases if open_cases else 1.0
    return "yellow" if share <= YELLOW_OVERDUE_SHARE else "red"


@dataclass(frozen=True)
class Trend:
    """Per-day series over a period, aligned with ``days``."""

    days: list[date]
    intake: list[int]
    completed: list[int]
    overdue: list[int]

    def as_json(self) -> dict[str, Any]:
        """The series for a chart script."""
        return {
            "days": [d.isoformat() for d in self.days],
            "intake": self.intake,
            "completed": self.completed,
            "overdue": self.overdue,
        }


# ---------------------------------------------------------------- aggregation


@dataclass
class Acc:
    """Running totals of one group before the median is taken."""

    intake: int = 0
    open: int = 0
    open_elsewhere: int = 0
    due_today: int = 0
    overdue: int = 0
    completed: int = 0
    on_time: int = 0
    days: Counter[int] = field(default_factory=Counter)

    def merge(self, other: Acc) -> None:
        self.intake += other.intake
        self.open += other.open
        self.open_elsewhere += other.open_elsewhere
        self.due_today += other.due_today
        self.overdue += other.overdue
        self.completed += other.completed
        self.on_time += other.on_time
        self.days.update(other.days)

    def freeze(self) -> Measures:
        return Measures(
            intake=self.intake,
            open=self.open,
            open_elsewhere=self.open_elsewhere,
            due_today=self.due_today,
            overdue=self.overdue,
            completed=self.completed,
            on_time=self.on_time,
            median_days=weighted_median(self.days),
        )


def weighted_median(counts: Counter[int]) -> float | None:
    """The median of values given with their multiplicities; None when there are none."""
    n = sum(counts.values())
    if n == 0:
        return None
    ordered = sorted(counts.items())

    def nth(k: int) -> int:  # the k-th smallest value, 0-based
        seen = 0
        for value, count in ordered:
            seen += count
            if k < seen:
                return value
        raise IndexError(k)

    if n % 2:
        return float(nth(n // 2))
    return (nth(n // 2 - 1) + nth(n // 2)) / 2


def sum_when(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    # SUM(CASE …) rather than COUNT(*) FILTER: the FILTER clause is missing on older SQLite.
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def received_between(runtime: Runtime, period: Period) -> ColumnElement[bool]:
    """Intake within the period, by the indexed capture time as well as the local date."""
    start = datetime.combine(period.date_from, time(0), runtime.tz)
    end = datetime.combine(period.date_to + timedelta(days=1), time(0), runtime.tz)
    # intake_date is the local date of received_at, so both bounds select the same rows; the
    # received_at bound lets the (agency, …, received_at) indexes narrow the scan.
    return and_(
        Case.received_at >= start,
        Case.received_at < end,
        Case.intake_date >= period.date_from,
        Case.intake_date <= period.date_to,
    )


Key = tuple[Any, ...]


@dataclass(frozen=True)
class Raw:
    """Counts grouped finely (by the keys and by day), to be rolled up in several ways."""

    intake: list[tuple[Key, date, int]]  # key, intake date, cases
    open: list[tuple[Key, int, int, int, int]]  # key, open, elsewhere, due today, overdue
    done: list[tuple[Key, date, date, int, int]]  # key, intake, closed, completed, on time


def fetch(
    session: Session,
    *,
    runtime: Runtime,
    keys: Sequence[Any],  # columns or column expressions
    scope: ColumnElement[bool],
    period: Period,
    by_clerk: bool = False,
) -> Raw:
    """Three GROUP BY queries: intake by day, open cases now, completions by day."""
    today = runtime.today()
    n = len(keys)

    def base(*columns: Any) -> Select[Any]:
        stmt = select(*keys, *columns).select_from(Case)
        if by_clerk:
            stmt = stmt.join(CaseEvent, and_(CaseEvent.case_id == Case.id, CaseEvent.seq == 1))
        return stmt.where(scope)

    intake_q = (
        base(Case.intake_date, func.count())
        .where(received_between(runtime, period))
        .group_by(*keys, Case.intake_date)
    )
    open_q = (
        base(
            func.count(),
            sum_when(Case.unit != Case.intake_station),
            sum_when(and_(Case.state.in_(RUNNING), Case.due_date == today)),
            sum_when(overdue_clause(today)),
        )
        .where(Case.state.in_(OPEN_STATES))
        .group_by(*keys)
    )
    done_q = (
        base(
            Case.intake_date,
            Case.closed_date,
            func.count(),
            sum_when(Case.closed_date <= Case.due_date),
        )
        .where(
            Case.state == COMPLETED,
            Case.closed_date >= period.date_from,
            Case.closed_date <= period.date_to,
        )
        .group_by(*keys, Case.intake_date, Case.closed_date)
    )
    return Raw(
        intake=[(tuple(r[:n]), r[n], int(r[n + 1])) for r in session.execute(intake_q)],
        open=[
            (tuple(r[:n]), int(r[n]), int(r[n + 1]), int(r[n + 2]), int(r[n + 3]))
            for r in session.execute(open_q)
        ],
        done=[
            (tuple(r[:n]), r[n], r[n + 1], int(r[n + 2]), int(r[n + 3]))
            for r in session.execute(done_q)
        ],
    )


def rollup(
    raw: Raw, *, group: Callable[[Key], Any], period: Period, calendar: WorkCalendar
) -> dict[Any, Acc]:
    """Measures per ``group(key)``, counting intake and completions inside ``period`` only."""
    out: dict[Any, Acc] = {}

    def acc(key: Key) -> Acc:
        g = group(key)
        a = out.get(g)
        if a is None:
            a = out[g] = Acc()
        return a

    for key, day, count in raw.intake:
        if period.date_from <= day <= period.date_to:
            acc(key).intake += count
    for key, open_, elsewhere, due_today, overdue in raw.open:
        a = acc(key)
        a.open += open_
        a.open_elsewhere += elsewhere
        a.due_today += due_today
        a.overdue += overdue
    for key, intake_date, closed_date, count, on_time in raw.done:
        if period.date_from <= closed_date <= period.date_to:
            a = acc(key)
            a.completed += count
            a.on_time += on_time
            a.days[calendar.working_days_between(intake_date, closed_date).days] += count
    return out


def total_of(groups: Iterable[Acc]) -> Measures:
    total = Acc()
    for g in groups:
        total.merge(g)
    return total.freeze()


def trend_of(session: Session, *, raw: Raw, scope: ColumnElement[bool], period: Period) -> Trend:
    """Daily intake, completions and overdue count over the period."""
    days = period.days
    intake: Counter[date] = Counter()
    for _key, day, count in raw.intake:
        intake[day] += count
    completed: Counter[date] = Counter()
    for _key, _intake, closed, count, _on_time in raw.done:
        completed[closed] += count
    return Trend(
        days=days,
        intake=[intake[d] for d in days],
        completed=[completed[d] for d in days],
        overdue=_overdue_series(session, scope=scope, period=period),
    )


def _overdue_series(session: Session, *, scope: ColumnElement[bool], period: Period) -> list[int]:
    """How many cases were overdue at the end of each day of the period.

    A case counts on day d when its due date is before d and it was still open that night.
    Past days are rebuilt from today's rows: a case becomes overdue the day after its due date
    and stops on the day it closes, so the series is a start count plus two GROUP BYs of
    changes. A case waiting for materials with days left is left out, as ``overdue_clause``
    leaves it out today; a due date moved by a supplement counts with its new value. For the
    last day, when that is today, this equals ``overdue_clause(today)``.
    """
    first, last = period.date_from, period.date_to
    still_counts = or_(Case.state != PENDING, Case.remaining_days < 0)

    def open_after(d: Any) -> ColumnElement[bool]:
        return or_(Case.closed_date.is_(None), Case.closed_date > d)

    start = session.scalar(
        select(func.count()).where(scope, still_counts, Case.due_date < first, open_after(first))
    )
    delta: Counter[date | None] = Counter()
    # Became overdue on due_date + 1 (and were not closed by their due date).
    for due, count in session.execute(
        select(Case.due_date, func.count())
        .where(
            scope,
            still_counts,
            Case.due_date >= first,
            Case.due_date < last,
            open_after(Case.due_date),
        )
        .group_by(Case.due_date)
    ):
        delta[due + timedelta(days=1)] += int(count)
    # Stopped being overdue on the day they closed.
    for closed, count in session.execute(
        select(Case.closed_date, func.count())
        .where(
            scope,
            still_counts,
            Case.closed_date > first,
            Case.closed_date <= last,
            Case.closed_date > Case.due_date,
        )
        .group_by(Case.closed_date)
    ):
        delta[closed] -= int(count)
    series: list[int] = []
    running = int(start or 0)
    for i, day in enumerate(period.days):
        if i:
            running += delta[day]
        series.append(running)
    return series
