"""Use cases of reports: a station's dashboard and the bureau's overview of every station.

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
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.calendar.rules import WorkCalendar
from yibao.cases.lifecycle import OPEN, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.queries import overdue_clause
from yibao.cases.service import RUNNING, visible
from yibao.errors import FieldError, Forbidden, ValidationFailed
from yibao.runtime import Runtime
from yibao.stations.models import STATION_KINDS, Station, Town

DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year and a leap day: longer periods belong in an export of the raw cases

# Traffic lights (local defaults, not rules of the lifecycle): an on-time rate at or above
# GREEN_RATE is green, at or above YELLOW_RATE yellow; an overdue share of open cases at or
# below YELLOW_OVERDUE_SHARE is yellow, above it red, and none at all green.
GREEN_RATE = 0.95
YELLOW_RATE = 0.85
YELLOW_OVERDUE_SHARE = 0.10

_OPEN_STATES = tuple(s.value for s in OPEN)
_COMPLETED = State.COMPLETED.value
_PENDING = State.MATERIALS_PENDING.value


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Period:
    """An inclusive range of agency-local dates."""

    date_from: date
    date_to: date

    @property
    def days(self) -> list[date]:
        """Every date of the period, in order."""
        n = (self.date_to - self.date_from).days
        return [self.date_from + timedelta(days=i) for i in range(n + 1)]


def default_period(today: date) -> Period:
    """The last ``DEFAULT_DAYS`` days, today included."""
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_period(raw_from: str | None, raw_to: str | None, *, today: date) -> Period:
    """The period of a filter form (``from``/``to`` as YYYY-MM-DD; blank means the default)."""
    errors: list[FieldError] = []
    default = default_period(today)

    def one(name: str, raw: str | None, fallback: date) -> date | None:
        text = (raw or "").strip()
        if not text:
            return fallback
        try:
            if len(text) != 10:
                raise ValueError
            return date.fromisoformat(text)
        except ValueError:
            errors.append(FieldError(name, "a date as YYYY-MM-DD", "请输入日期，格式如 2026-01-31"))
            return None

    start = one("from", raw_from, default.date_from)
    end = one("to", raw_to, default.date_to)
    if start is not None and end is not None:
        if start > end:
            errors.append(FieldError("to", "the end is before the start", "结束日期早于开始日期"))
        elif (end - start).days + 1 > MAX_DAYS:
            errors.append(
                FieldError("to", f"at most {MAX_DAYS} days", f"统计区间最长 {MAX_DAYS} 天")
            )
    if errors:
        raise ValidationFailed(errors)
    assert start is not None and end is not None
    return Period(start, end)


@dataclass(frozen=True)
class OverviewFilter:
    """Which stations and which period the overview covers; ``None`` means all."""

    period: Period
    kind: str | None = None
    town: str | None = None  # town code


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
class ClerkRow:
    """Cases of one clerk: the person who took them (the intake event's actor)."""

    actor_id: int | None
    name: str
    measures: Measures


@dataclass(frozen=True)
class ItemRow:
    """Cases of one catalogue item."""

    code: str
    name_zh: str
    name_en: str
    measures: Measures


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


@dataclass(frozen=True)
class Dashboard:
    """A station master's view of their station."""

    station_code: str
    station_name: str
    today: date
    period: Period
    today_measures: Measures  # intake and completions of today; open, due, overdue now
    total: Measures  # the period, every clerk and item together
    clerks: list[ClerkRow]
    items: list[ItemRow]
    trend: Trend


@dataclass(frozen=True)
class StationRow:
    """One station of the overview."""

    code: str
    name: str
    kind: str
    town_code: str | None
    town_name: str
    measures: Measures


@dataclass(frozen=True)
class Overview:
    """Every station side by side, with the filter that chose them and the choices it offers."""

    today: date
    filters: OverviewFilter
    rows: list[StationRow]
    total: Measures
    kinds: tuple[str, ...]
    towns: list[tuple[str, str]]  # (code, name) of towns that have a station


# ---------------------------------------------------------------- aggregation


@dataclass
class _Acc:
    """Running totals of one group before the median is taken."""

    intake: int = 0
    open: int = 0
    open_elsewhere: int = 0
    due_today: int = 0
    overdue: int = 0
    completed: int = 0
    on_time: int = 0
    days: Counter[int] = field(default_factory=Counter)

    def merge(self, other: _Acc) -> None:
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


def _sum(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    # SUM(CASE …) rather than COUNT(*) FILTER: the FILTER clause is missing on older SQLite.
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _received_between(runtime: Runtime, period: Period) -> ColumnElement[bool]:
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
class _Raw:
    """Counts grouped finely (by the keys and by day), to be rolled up in several ways."""

    intake: list[tuple[Key, date, int]]  # key, intake date, cases
    open: list[tuple[Key, int, int, int, int]]  # key, open, elsewhere, due today, overdue
    done: list[tuple[Key, date, date, int, int]]  # key, intake, closed, completed, on time


def _fetch(
    session: Session,
    *,
    runtime: Runtime,
    keys: Sequence[Any],  # columns or column expressions
    scope: ColumnElement[bool],
    period: Period,
    by_clerk: bool = False,
) -> _Raw:
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
        .where(_received_between(runtime, period))
        .group_by(*keys, Case.intake_date)
    )
    open_q = (
        base(
            func.count(),
            _sum(Case.unit != Case.intake_station),
            _sum(and_(Case.state.in_(RUNNING), Case.due_date == today)),
            _sum(overdue_clause(today)),
        )
        .where(Case.state.in_(_OPEN_STATES))
        .group_by(*keys)
    )
    done_q = (
        base(
            Case.intake_date,
            Case.closed_date,
            func.count(),
            _sum(Case.closed_date <= Case.due_date),
        )
        .where(
            Case.state == _COMPLETED,
            Case.closed_date >= period.date_from,
            Case.closed_date <= period.date_to,
        )
        .group_by(*keys, Case.intake_date, Case.closed_date)
    )
    return _Raw(
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


def _rollup(
    raw: _Raw, *, group: Callable[[Key], Any], period: Period, calendar: WorkCalendar
) -> dict[Any, _Acc]:
    """Measures per ``group(key)``, counting intake and completions inside ``period`` only."""
    out: dict[Any, _Acc] = {}

    def acc(key: Key) -> _Acc:
        g = group(key)
        a = out.get(g)
        if a is None:
            a = out[g] = _Acc()
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


def _total(groups: Iterable[_Acc]) -> Measures:
    total = _Acc()
    for g in groups:
        total.merge(g)
    return total.freeze()


def _trend(session: Session, *, raw: _Raw, scope: ColumnElement[bool], period: Period) -> Trend:
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
    still_counts = or_(Case.state != _PENDING, Case.remaining_days < 0)

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


# ---------------------------------------------------------------- use cases


def station_dashboard(
    session: Session, *, runtime: Runtime, actor: Actor, period: Period | None = None
) -> Dashboard:
    """The dashboard of the actor's own station (station masters only)."""
    if actor.role is not Role.STATION_MASTER or not actor.unit:
        raise Forbidden("only a station master sees a station dashboard")
    ref = runtime.reference(session)
    calendar = ref.calendar
    today = runtime.today()
    period = period or default_period(today)
    station = actor.unit
    scope = and_(visible(actor), Case.intake_station == station)

    # One fetch by (clerk, item, day) serves the clerk table, the item table and the trend.
    fetch = partial(
        _fetch,
        session,
        runtime=runtime,
        keys=[CaseEvent.actor_id, CaseEvent.actor_name, Case.service_code],
        scope=scope,
        by_clerk=True,
    )
    raw = fetch(period=period)
    today_only = Period(today, today)
    raw_today = raw if period.date_from <= today <= period.date_to else fetch(period=today_only)

    clerks = [
        ClerkRow(actor_id=key[0], name=str(key[1]), measures=a.freeze())
        for key, a in _rollup(
            raw, group=lambda k: (k[0], k[1]), period=period, calendar=calendar
        ).items()
    ]
    clerks.sort(key=lambda r: (-r.measures.intake, -r.measures.open, r.name))

    by_item = _rollup(raw, group=lambda k: k[2], period=period, calendar=calendar)
    items = []
    for code, a in by_item.items():
        info = ref.services.get(code)
        items.append(
            ItemRow(
                code=code,
                name_zh=info.name_zh if info else code,
                name_en=info.name_en if info else code,
                measures=a.freeze(),
            )
        )
    order = {code: i for i, code in enumerate(ref.services)}
    items.sort(key=lambda r: (-r.measures.intake, order.get(r.code, len(order))))

    return Dashboard(
        station_code=station,
        station_name=ref.unit_names.get(station, station),
        today=today,
        period=period,
        today_measures=_total(
            _rollup(raw_today, group=lambda k: (), period=today_only, calendar=calendar).values()
        ),
        total=_total(by_item.values()),
        clerks=clerks,
        items=items,
        trend=_trend(session, raw=raw, scope=scope, period=period),
    )


def station_measures(
    session: Session, *, runtime: Runtime, actor: Actor, station: str, period: Period
) -> Measures:
    """One station's measures over a period, counted as on the dashboard, within the actor's
    sight (a clerk or station master sees their own station; the bureau any)."""
    raw = _fetch(
        session,
        runtime=runtime,
        keys=[Case.intake_station],
        scope=and_(visible(actor), Case.intake_station == station),
        period=period,
    )
    calendar = runtime.reference(session).calendar
    return _total(_rollup(raw, group=lambda k: (), period=period, calendar=calendar).values())


def _stations(session: Session, agency: str) -> list[tuple[Station, str]]:
    """Active stations of the agency with the name of their town, in file order."""
    rows = session.execute(
        select(Station, Town.name)
        .outerjoin(
            Town,
            and_(
                Town.agency == Station.agency,
                Town.code == Station.town_code,
                Town.release == Station.town_release,
            ),
        )
        .where(Station.agency == agency, Station.active)
        .order_by(Station.id)
    )
    return [(s, name or "") for s, name in rows]


def check_overview_filter(filters: OverviewFilter, towns: Sequence[tuple[str, str]]) -> None:
    """Refuse an unknown station kind or town, naming the field."""
    errors: list[FieldError] = []
    if filters.kind is not None and filters.kind not in STATION_KINDS:
        errors.append(
            FieldError("kind", f"unknown station kind '{filters.kind}'", "未知的服务站类型")
        )
    if filters.town is not None and filters.town not in {code for code, _ in towns}:
        errors.append(FieldError("town", f"unknown town '{filters.town}'", "未知的镇街"))
    if errors:
        raise ValidationFailed(errors)


def overview_choices(session: Session, *, actor: Actor) -> list[tuple[str, str]]:
    """The towns that have an active station, as (code, name), for the filter form."""
    _require_agency_wide(actor)
    return _towns(_stations(session, actor.agency))


def _towns(stations: Iterable[tuple[Station, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for station, town_name in stations:
        if station.town_code and station.town_code not in seen:
            seen[station.town_code] = town_name or station.town_code
    return sorted(seen.items())


def _require_agency_wide(actor: Actor) -> None:
    if not actor.agency_wide:
        raise Forbidden("only bureau officers and supervisors see the overview")


def bureau_overview(
    session: Session, *, runtime: Runtime, actor: Actor, filters: OverviewFilter
) -> Overview:
    """Every station of the agency side by side (bureau officers and supervisors only)."""
    _require_agency_wide(actor)
    every = _stations(session, actor.agency)
    towns = _towns(every)
    check_overview_filter(filters, towns)
    stations = [
        (s, town)
        for s, town in every
        if (filters.kind is None or s.kind == filters.kind)
        and (filters.town is None or s.town_code == filters.town)
    ]
    codes = [s.code for s, _ in stations]
    groups: dict[Any, _Acc] = {}
    if codes:
        raw = _fetch(
            session,
            runtime=runtime,
            keys=[Case.intake_station],
            scope=and_(visible(actor), Case.intake_station.in_(codes)),
            period=filters.period,
        )
        groups = _rollup(
            raw, group=lambda k: k[0], period=filters.period, calendar=runtime.reference().calendar
        )
    rows = [
        StationRow(
            code=s.code,
            name=s.name,
            kind=s.kind,
            town_code=s.town_code,
            town_name=town,
            measures=groups.get(s.code, _Acc()).freeze(),
        )
        for s, town in stations
    ]
    return Overview(
        today=runtime.today(),
        filters=filters,
        rows=rows,
        total=_total(groups.values()),
        kinds=STATION_KINDS,
        towns=towns,
    )


# ---------------------------------------------------------------- trips saved (少跑路)

# A trip saved is counted one way, from the village (or the station's town) to the bureau hall,
# as the reference data gives it; a round trip would double kilometres and hours.
LEGS_PER_TRIP = 1


@dataclass(frozen=True)
class TripMeasures:
    """Completed cases, those finished in one visit, and the trips they saved."""

    completed: int = 0  # completed in the period
    one_visit: int = 0  # of those, never waiting for materials (一次办结)
    trips: int = 0  # of those, closed where taken, at a station other than the bureau hall
    km: float = 0.0
    minutes: float = 0.0
    unknown_distance: int = 0  # trips whose place has no distance on record

    @property
    def one_visit_rate(self) -> float | None:
        """一次办结率: completed without a request for materials / completed."""
        return self.one_visit / self.completed if self.completed else None

    @property
    def hours(self) -> float:
        """Travel time saved, in hours."""
        return self.minutes / 60


@dataclass
class _TripAcc:
    completed: int = 0
    one_visit: int = 0
    trips: int = 0
    km: float = 0.0
    minutes: float = 0.0
    unknown_distance: int = 0

    def add(
        self, completed: int, one_visit: int, trips: int, way: tuple[float, float] | None
    ) -> None:
        self.completed += completed
        self.one_visit += one_visit
        self.trips += trips
        if trips:
            if way is None:
                self.unknown_distance += trips
            else:
                self.km += trips * way[0] * LEGS_PER_TRIP
                self.minutes += trips * way[1] * LEGS_PER_TRIP

    def freeze(self) -> TripMeasures:
        return TripMeasures(
            completed=self.completed,
            one_visit=self.one_visit,
            trips=self.trips,
            km=round(self.km, 1),
            minutes=round(self.minutes, 1),
            unknown_distance=self.unknown_distance,
        )


@dataclass(frozen=True)
class TripRow:
    """One group of the trips-saved report: a station, a town or a month."""

    key: str
    name: str
    measures: TripMeasures
    kind: str | None = None  # stations only
    town_name: str = ""  # stations only


@dataclass(frozen=True)
class TripsSaved:
    """Trips saved by station, town and month over a period."""

    period: Period
    total: TripMeasures
    by_station: list[TripRow]
    by_town: list[TripRow]
    by_month: list[TripRow]
    approximate: bool  # some distance used is approximate

    def as_json(self) -> dict[str, Any]:
        """The report as the API returns it."""

        def m(x: TripMeasures) -> dict[str, Any]:
            rate = x.one_visit_rate
            return {
                "completed": x.completed,
                "one_visit": x.one_visit,
                "one_visit_rate": None if rate is None else round(rate, 4),
                "trips": x.trips,
                "km": x.km,
                "hours": round(x.hours, 1),
                "unknown_distance": x.unknown_distance,
            }

        def rows(items: list[TripRow], key: str) -> list[dict[str, Any]]:
            out = []
            for r in items:
                row: dict[str, Any] = {key: r.key, "name": r.name, **m(r.measures)}
                if r.kind is not None:
                    row.update(kind=r.kind, town_name=r.town_name)
                out.append(row)
            return out

        return {
            "from": self.period.date_from.isoformat(),
            "to": self.period.date_to.isoformat(),
            "legs_per_trip": LEGS_PER_TRIP,
            "approximate": self.approximate,
            "total": m(self.total),
            "by_station": rows(self.by_station, "code"),
            "by_town": rows(self.by_town, "code"),
            "by_month": rows(self.by_month, "month"),
        }


def trips_saved(
    session: Session, *, runtime: Runtime, actor: Actor, filters: OverviewFilter
) -> TripsSaved:
    """Trips to the bureau hall that cases finished elsewhere saved, by station, town, month.

    Each completed case counts in the one-visit rate; a case completed where it was taken, at
    a station other than the bureau hall, counts one trip saved, with the distance and time of
    its visit's village when it was taken on a visit, else of a village station's own
    village, else of its station's town. Bureau officers and supervisors see every station;
    a station's staff see their own.
    """
    from yibao.visits.models import Village, Visit
    from yibao.visits.rules import home_village

    if not actor.sees_cases:
        raise Forbidden(f"the role '{actor.role.value}' has no access to case data")
    every = _stations(session, actor.agency)
    towns = _towns(every)
    if actor.agency_wide:
        check_overview_filter(filters, towns)
        stations = [
            (s, t)
            for s, t in every
            if (filters.kind is None or s.kind == filters.kind)
            and (filters.town is None or s.town_code == filters.town)
        ]
    else:
        stations = [(s, t) for s, t in every if s.code == actor.unit]
    by_code = {s.code: (s, t) for s, t in stations}
    period = filters.period
    town_rows = {
        (t.code, t.release): t
        for t in session.scalars(select(Town).where(Town.agency == actor.agency))
    }
    town_name = {code: t.name for (code, _rel), t in town_rows.items()}
    villages = {
        (v.town_code, v.name): v
        for v in session.scalars(select(Village).where(Village.agency == actor.agency))
    }
    groups: dict[str, dict[str, _TripAcc]] = {"station": {}, "town": {}, "month": {}}
    total = _TripAcc()
    approximate = False
    if by_code:
        waited = (
            select(CaseEvent.id)
            .where(CaseEvent.case_id == Case.id, CaseEvent.to_state == _PENDING)
            .exists()
        )
        stmt = (
            select(
                Case.intake_station,
                Visit.town_code,
                Visit.village,
                Case.closed_date,
                func.count(),
                _sum(~waited),
                _sum(Case.unit == Case.intake_station),
            )
            .select_from(Case)
            .outerjoin(Visit, Visit.id == Case.visit_id)
            .where(
                visible(actor),
                Case.intake_station.in_(list(by_code)),
                Case.state == _COMPLETED,
                Case.closed_date >= period.date_from,
                Case.closed_date <= period.date_to,
            )
            .group_by(Case.intake_station, Visit.town_code, Visit.village, Case.closed_date)
        )
        for code, v_town, v_name, closed, count, one, here in session.execute(stmt):
            station, _town = by_code[code]
            trips = int(here) if station.kind != "bureau" else 0
            way: tuple[float, float] | None = None
            place_town = station.town_code
            home = home_village(station.kind, station.villages or [], station.address)
            if v_town:
                village = villages.get((v_town, v_name))
            else:  # a village station's cases come from its own village, not its town centre
                village = villages.get((station.town_code or "", home)) if home else None
            if v_town:
                place_town = v_town
            if village is not None and village.distance_km is not None:
                way = (village.distance_km, float(village.travel_minutes or 0))
                approximate = approximate or village.approximate
            else:
                t = town_rows.get((station.town_code or "", station.town_release or ""))
                if t is not None and t.distance_km is not None:
                    way = (t.distance_km, float(t.travel_minutes or 0))
                    approximate = True  # the town table's distances are approximate
            keys = {
                "station": code,
                "town": place_town or "",
                "month": f"{closed:%Y-%m}",
            }
            for group, key in keys.items():
                groups[group].setdefault(key, _TripAcc()).add(int(count), int(one), trips, way)
            total.add(int(count), int(one), trips, way)
    by_station = [
        TripRow(
            s.code,
            s.name,
            groups["station"].get(s.code, _TripAcc()).freeze(),
            kind=s.kind,
            town_name=t,
        )
        for s, t in stations
    ]
    by_town = sorted(
        (
            TripRow(code, town_name.get(code, code or "—"), acc.freeze())
            for code, acc in groups["town"].items()
        ),
        key=lambda r: r.key,
    )
    months = _months(period)
    by_month = [TripRow(m, m, groups["month"].get(m, _TripAcc()).freeze()) for m in months]
    return TripsSaved(period, total.freeze(), by_station, by_town, by_month, approximate)


def _months(period: Period) -> list[str]:
    out: list[str] = []
    d = period.date_from.replace(day=1)
    while d <= period.date_to:
        out.append(f"{d:%Y-%m}")
        d = (d + timedelta(days=32)).replace(day=1)
    return out


# ---------------------------------------------------------------- ratings (好差评)


@dataclass(frozen=True)
class RatingTable:
    """One table of rating rates: rows per station, clerk or item, and the total."""

    id: str  # the table's element id
    title: str  # English msgid
    key_label: str  # English msgid of the first column
    rows: list[Any]  # ratings.measures.RateRow
    total: Any  # ratings.measures.Rates


def station_ratings(
    session: Session, *, runtime: Runtime, actor: Actor, period: Period
) -> list[RatingTable]:
    """Rates of the station master's own station, per clerk and per item (cases the station
    completed in the period; the clerk is the one who completed the case)."""
    from yibao.ratings.measures import rate_table, rates

    if actor.role is not Role.STATION_MASTER or not actor.unit:
        raise Forbidden("only a station master sees a station dashboard")
    since, until = period.date_from, period.date_to
    total = rates(session, agency=actor.agency, station=actor.unit, since=since, until=until)
    return [
        RatingTable(
            "ratings-clerks",
            "Ratings by clerk",
            "Clerk who completed the case",
            rate_table(
                session, runtime=runtime, by="clerk", station=actor.unit, since=since, until=until
            ),
            total,
        ),
        RatingTable(
            "ratings-items",
            "Ratings by item",
            "Service item",
            rate_table(
                session, runtime=runtime, by="item", station=actor.unit, since=since, until=until
            ),
            total,
        ),
    ]


def overview_ratings(
    session: Session, *, runtime: Runtime, actor: Actor, overview: Overview
) -> list[RatingTable]:
    """Rates per station (the overview's stations), per clerk and per item, agency-wide."""
    from yibao.ratings.measures import Rates, rate_table, rates

    _require_agency_wide(actor)
    period = overview.filters.period
    since, until = period.date_from, period.date_to
    shown = {r.code for r in overview.rows}
    by_station = [
        r
        for r in rate_table(session, runtime=runtime, by="station", since=since, until=until)
        if r.key in shown
    ]
    station_total = Rates(
        **{f: sum(getattr(r.rates, f) for r in by_station) for f in Rates.__dataclass_fields__}
    )
    total = rates(session, agency=actor.agency, since=since, until=until)
    return [
        RatingTable("ratings-stations", "Ratings by station", "Station", by_station, station_total),
        RatingTable(
            "ratings-clerks",
            "Ratings by clerk",
            "Clerk who completed the case",
            rate_table(session, runtime=runtime, by="clerk", since=since, until=until),
            total,
        ),
        RatingTable(
            "ratings-items",
            "Ratings by item",
            "Service item",
            rate_table(session, runtime=runtime, by="item", since=since, until=until),
            total,
        ),
    ]
