"""The itinerary planner: propose visits so every village is seen often enough. Pure.

Input: a period, the mobile teams with their own villages and a daily capacity, the official
calendar, each village's last visit before the period, visits already booked inside it, and
past demand (cases per village). Output: proposed visits, and the coverage gaps the teams
cannot close with their capacity.

The rule, village by village: the gap between two visits (and between the last visit before
the period, or the day before it starts, and the first visit in it) is at most ``interval``
days, so any ``interval`` consecutive days of the period hold a visit. A village with more
demand than the district's average gets a shorter *target* interval (``interval // f`` for
``f`` = 2, 3, … up to ``MAX_FREQUENCY``), which the planner meets when there is capacity left.

Each working day, each team visits first the villages it must visit today so that no hard
deadline is missed later (earliest deadline first, counting the free capacity of the working
days up to each deadline), then the villages whose target date has come, up to its capacity.
Visits only fall on working days of the calendar; nothing random, so the same input gives the
same proposal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import floor

from yibao.calendar.rules import WorkCalendar

DEFAULT_INTERVAL = 30  # days: every village at least once in any 30 days
DEFAULT_CAPACITY = 2  # villages a team visits in one day (morning and afternoon)
MAX_FREQUENCY = 4  # a busy village is visited at most 4 times as often as a quiet one
MAX_PERIOD_DAYS = 93  # a quarter: plans further ahead are guesses
DEMAND_DAYS = 90  # past demand: cases per village over the last 90 days

Place = tuple[str, str]  # (town code, village name)


@dataclass(frozen=True)
class Team:
    """A mobile station's team: its own villages and how many it can visit in a day."""

    station: str
    places: tuple[Place, ...]
    capacity: int = DEFAULT_CAPACITY


@dataclass(frozen=True)
class Booked:
    """A visit already in the itinerary inside the period; kept as it is."""

    station: str
    place: Place
    day: date


@dataclass(frozen=True)
class PlanRequest:
    """Everything the planner looks at."""

    start: date
    end: date
    teams: tuple[Team, ...]
    interval: int = DEFAULT_INTERVAL
    demand: Mapping[Place, float] = field(default_factory=dict)
    last_visit: Mapping[Place, date] = field(default_factory=dict)  # before ``start``
    booked: tuple[Booked, ...] = ()


@dataclass(frozen=True)
class Proposed:
    """One proposed visit; ``slot`` orders a team's visits of the day (0: the morning)."""

    station: str
    place: Place
    day: date
    slot: int


@dataclass(frozen=True)
class Gap:
    """More than ``interval`` days without a visit to a village: from ``after`` to ``until``."""

    station: str
    place: Place
    after: date  # the last visit, or the day before the period
    until: date  # the next visit, or the day after the period

    @property
    def days(self) -> int:
        """Days between the two ends."""
        return (self.until - self.after).days


@dataclass(frozen=True)
class Overload:
    """A team with more visits on one day than its capacity."""

    station: str
    day: date
    visits: int
    capacity: int


@dataclass(frozen=True)
class Check:
    """What is wrong with an itinerary: gaps, overloaded days, visits on days off."""

    gaps: tuple[Gap, ...] = ()
    overloads: tuple[Overload, ...] = ()
    days_off: tuple[Proposed, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not (self.gaps or self.overloads or self.days_off)


@dataclass(frozen=True)
class Proposal:
    """The planner's answer."""

    request: PlanRequest
    visits: tuple[Proposed, ...]
    targets: Mapping[Place, int]  # the target interval of each village, in days
    check: Check
    estimated: bool  # a year of the period has no official calendar (estimated days off)
    owners: Mapping[Place, str]  # the team that plans each village


def frequency(demand: float, mean: float) -> int:
    """How many times as often as a quiet village: 1 up to the mean, then one more per mean."""
    if mean <= 0 or demand <= 0:
        return 1
    return max(1, min(MAX_FREQUENCY, 1 + floor(demand / mean)))


def target_intervals(request: PlanRequest, places: Iterable[Place]) -> dict[Place, int]:
    """Target days between visits: ``interval`` for average demand and below, less above it."""
    chosen = sorted(set(places))
    values = [max(0.0, float(request.demand.get(p, 0.0))) for p in chosen]
    mean = sum(values) / len(values) if values else 0.0
    return {
        p: max(1, request.interval // frequency(v, mean))
        for p, v in zip(chosen, values, strict=True)
    }


def owners(teams: Iterable[Team]) -> dict[Place, str]:
    """The team that plans each village: the first station (by code) that lists it."""
    out: dict[Place, str] = {}
    for team in sorted(teams, key=lambda t: t.station):
        for place in team.places:
            out.setdefault(place, team.station)
    return out


def check_request(request: PlanRequest) -> list[tuple[str, str]]:
    """Problems with the request itself, as (field, message)."""
    problems: list[tuple[str, str]] = []
    if request.end < request.start:
        problems.append(("date_to", "the end is before the start"))
    elif (request.end - request.start).days + 1 > MAX_PERIOD_DAYS:
        problems.append(("date_to", f"at most {MAX_PERIOD_DAYS} days"))
    if not 1 <= request.interval <= 366:
        problems.append(("interval_days", "between 1 and 366 days"))
    for team in request.teams:
        if not 1 <= team.capacity <= 10:
            problems.append(("capacity", "between 1 and 10 villages a day"))
            break
    return problems


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def propose(request: PlanRequest, calendar: WorkCalendar) -> Proposal:
    """Visits for the period that keep every village within the interval where capacity allows."""
    problems = check_request(request)
    if problems:
        raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))
    start, end, interval = request.start, request.end, request.interval
    days = _days(start, end)
    working = {d: calendar.is_working_day(d) for d in days}
    owner = owners(request.teams)
    targets = target_intervals(request, owner)

    booked_on: dict[tuple[str, date], list[Place]] = defaultdict(list)  # (station, day)
    booked_places: dict[date, set[Place]] = defaultdict(set)
    booked_days: dict[Place, list[date]] = defaultdict(list)
    for b in sorted(request.booked, key=lambda b: (b.day, b.station, b.place)):
        if start <= b.day <= end:
            booked_on[(b.station, b.day)].append(b.place)
            booked_places[b.day].add(b.place)
            booked_days[b.place].append(b.day)

    last: dict[Place, date | None] = {p: request.last_visit.get(p) for p in owner}
    proposed: list[Proposed] = []
    for team in sorted(request.teams, key=lambda t: t.station):
        places = sorted(p for p in set(team.places) if owner[p] == team.station)
        mine = set(places)
        free = {
            d: max(0, team.capacity - len(booked_on[(team.station, d)])) if working[d] else 0
            for d in days
        }
        cum: dict[date, int] = {}
        running = 0
        for d in days:
            running += free[d]
            cum[d] = running

        def room(after: date, until: date, cum: dict[date, int] = cum) -> int:
            """Free visits on the days in (after, until] of the period."""
            hi = min(until, end)
            if hi <= after:
                return 0
            return cum[hi] - cum[after]

        for d in days:
            for p in booked_places[d]:
                if p in mine:
                    last[p] = d
            if free[d] == 0:
                continue
            today = [p for p in places if last[p] != d]

            def next_booked(p: Place, d: date = d) -> date | None:
                return next((b for b in booked_days[p] if b > d), None)

            # Hard deadlines: the last day of the interval after the previous visit.
            need: list[tuple[date, Place]] = []
            for p in today:
                seen = last[p]
                deadline = (seen if seen is not None else start - timedelta(days=1)) + timedelta(
                    days=interval
                )
                if deadline > end:
                    continue
                nb = next_booked(p)
                if nb is not None and nb <= deadline:
                    continue  # a booked visit meets it
                need.append((deadline, p))
            need.sort()
            must = 0
            for k, (deadline, _p) in enumerate(need, 1):
                must = max(must, k - room(d, deadline))
            must = min(must, free[d])
            chosen = [p for _deadline, p in need[:must]]

            # Then the villages whose target date has come (never visited: at once).
            wanted: list[tuple[date, float, Place]] = []
            for p in today:
                if p in chosen:
                    continue
                seen = last[p]
                due = start if seen is None else seen + timedelta(days=targets[p])
                if due > d:
                    continue
                nb = next_booked(p)
                if nb is not None and (nb - d).days < targets[p]:
                    continue  # a booked visit comes soon enough
                wanted.append((due, -float(request.demand.get(p, 0.0)), p))
            wanted.sort()
            chosen += [p for _due, _demand, p in wanted[: free[d] - len(chosen)]]

            slot = len(booked_on[(team.station, d)])
            for i, p in enumerate(chosen):
                proposed.append(Proposed(team.station, p, d, slot + i))
                last[p] = d

    proposed.sort(key=lambda v: (v.day, v.station, v.slot))
    years = {d.year for d in days}
    return Proposal(
        request=request,
        visits=tuple(proposed),
        targets=targets,
        check=check(request, proposed, calendar),
        estimated=not all(calendar.is_official(y) for y in years),
        owners=owner,
    )


def check(request: PlanRequest, visits: Iterable[Proposed], calendar: WorkCalendar) -> Check:
    """Gaps, overloaded days and days off of the booked visits plus ``visits``."""
    start, end, interval = request.start, request.end, request.interval
    owner = owners(request.teams)
    capacity = {t.station: t.capacity for t in request.teams}
    chosen = list(visits)
    seen: dict[Place, set[date]] = defaultdict(set)
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    for b in request.booked:
        if start <= b.day <= end:
            seen[b.place].add(b.day)
            per_day[(b.station, b.day)] += 1
    for v in chosen:
        seen[v.place].add(v.day)
        per_day[(v.station, v.day)] += 1
    gaps: list[Gap] = []
    for place in sorted(owner):
        prior = request.last_visit.get(place)
        previous = prior if prior is not None and prior < start else start - timedelta(days=1)
        for day in [*sorted(d for d in seen[place] if start <= d <= end), end + timedelta(days=1)]:
            if (day - previous).days > interval:
                gaps.append(Gap(owner[place], place, previous, day))
            previous = day
    overloads = [
        Overload(station, day, n, capacity[station])
        for (station, day), n in sorted(per_day.items())
        if station in capacity and n > capacity[station]
    ]
    days_off = [v for v in chosen if not calendar.is_working_day(v.day)]
    return Check(tuple(gaps), tuple(overloads), tuple(days_off))
