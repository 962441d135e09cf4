"""What needs the bureau's attention in the itineraries: the backlog waiting for the next
visits, villages nobody visited for N days, past visits still only planned, and visits planned
on a day that is no longer a working day (after next year's schedule is imported).

Only visits reported done count as visits: a visit planned for today or a past one never
reported done does not take a village off the stale list.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.errors import ValidationFailed
from yibao.runtime import Runtime
from yibao.visits import rules
from yibao.visits.models import Visit
from yibao.visits.planner import Place
from yibao.visits.rules import VisitState
from yibao.visits.service import (
    _PENDING,
    mobile_stations,
    places_of_cases,
    require_reader,
    team_places,
    visible,
)


def pending_cases(session: Session, *, actor: Actor, agency: str) -> list[Case]:
    """Cases waiting for materials that a mobile station took, in the actor's sight."""
    mobile = [s.code for s in mobile_stations(session, agency=agency)]
    return list(
        session.scalars(
            select(Case)
            .where(
                visible_cases(actor),
                Case.state == _PENDING,
                or_(Case.visit_id.is_not(None), Case.intake_station.in_(mobile)),
            )
            .order_by(Case.received_at)
        )
    )


@dataclass(frozen=True)
class BacklogRow:
    """An upcoming visit and the cases of its village that wait for materials."""

    visit: Visit
    cases: list[Case]


def backlog(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    days: int = rules.DEFAULT_BACKLOG_DAYS,
) -> list[BacklogRow]:
    """For each planned visit of the next ``days`` days, the cases of its village waiting for
    materials (linked to earlier visits of that village, or taken there by the station).

    A case whose village is unknown waits for the next visit of the station that holds it.
    """
    require_reader(actor)
    if not 1 <= days <= 92:
        raise ValidationFailed.single("days", "between 1 and 92 days", "天数须在1到92之间")
    today = runtime.today()
    upcoming = list(
        session.scalars(
            select(Visit)
            .where(
                visible(actor),
                Visit.state == VisitState.PLANNED.value,
                Visit.visit_date >= today,
                Visit.visit_date < today + dt.timedelta(days=days),
            )
            .order_by(Visit.visit_date, Visit.start_time, Visit.station_code)
        )
    )
    cases = pending_cases(session, actor=actor, agency=actor.agency)
    places = places_of_cases(session, cases, tz=runtime.tz)
    by_place: dict[Place, list[Case]] = defaultdict(list)
    unplaced: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        place = places[c.id]
        if place is None:
            unplaced[c.unit].append(c)
        else:
            by_place[place].append(c)
    first_of_station: set[uuid.UUID] = set()
    seen: set[str] = set()
    for v in upcoming:
        if v.station_code not in seen:
            seen.add(v.station_code)
            first_of_station.add(v.id)
    return [
        BacklogRow(
            v,
            by_place.get((v.town_code, v.village), [])
            + (unplaced.get(v.station_code, []) if v.id in first_of_station else []),
        )
        for v in upcoming
    ]


@dataclass(frozen=True)
class StaleVillage:
    """A village a mobile team serves that nobody visited in the last N days."""

    town_code: str
    village: str
    stations: list[str]
    last_visit: dt.date | None
    days_since: int | None
    next_visit: dt.date | None


def last_visits(
    session: Session, *, agency: str, before: dt.date, planned_from: dt.date | None = None
) -> dict[Place, dt.date]:
    """The latest visit of each village on or before ``before``: visits reported done, and,
    when ``planned_from`` is given, visits still planned on or after that day (the planner
    counts the visits booked ahead; a past visit never reported done counts for nobody)."""
    counted = Visit.state == VisitState.DONE.value
    if planned_from is not None:
        counted = or_(
            counted,
            (Visit.state == VisitState.PLANNED.value) & (Visit.visit_date >= planned_from),
        )
    return {
        (town, village): day
        for town, village, day in session.execute(
            select(Visit.town_code, Visit.village, func.max(Visit.visit_date))
            .where(Visit.agency == agency, counted, Visit.visit_date <= before)
            .group_by(Visit.town_code, Visit.village)
        )
    }


def stale_villages(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    days: int = rules.DEFAULT_STALE_DAYS,
) -> list[StaleVillage]:
    """Villages served by mobile teams with no visit in the ``days`` days ending today."""
    require_reader(actor)
    if not 1 <= days <= 366:
        raise ValidationFailed.single("days", "between 1 and 366 days", "天数须在1到366之间")
    today = runtime.today()
    serving: dict[Place, list[str]] = defaultdict(list)
    for s in mobile_stations(session, agency=actor.agency):
        if actor.agency_wide or s.code == actor.unit:
            for p in team_places(s):
                serving[p].append(s.code)
    last = last_visits(session, agency=actor.agency, before=today)
    upcoming = {
        (town, village): day
        for town, village, day in session.execute(
            select(Visit.town_code, Visit.village, func.min(Visit.visit_date))
            .where(
                Visit.agency == actor.agency,
                Visit.state == VisitState.PLANNED.value,
                Visit.visit_date >= today,
            )
            .group_by(Visit.town_code, Visit.village)
        )
    }
    out = [
        StaleVillage(
            p[0],
            p[1],
            sorted(stations),
            last.get(p),
            rules.days_since(last.get(p), today),
            upcoming.get(p),
        )
        for p, stations in serving.items()
        if rules.is_stale(last.get(p), today, days)
    ]
    out.sort(
        key=lambda s: (
            -(s.days_since if s.days_since is not None else 10**6),
            s.town_code,
            s.village,
        )
    )
    return out


def past_planned(session: Session, *, runtime: Runtime, actor: Actor) -> list[Visit]:
    """Visits of past days still only planned: the supervisor reports each done or cancels it."""
    require_reader(actor)
    return list(
        session.scalars(
            select(Visit)
            .where(
                visible(actor),
                Visit.state == VisitState.PLANNED.value,
                Visit.visit_date < runtime.today(),
            )
            .order_by(Visit.visit_date, Visit.start_time, Visit.station_code)
            .limit(500)
        )
    )


def on_days_off(session: Session, *, runtime: Runtime, actor: Actor) -> list[Visit]:
    """Planned visits from today on that fall on a day that is not a working day in the
    node's current calendar (say, after next year's official schedule was imported)."""
    require_reader(actor)
    calendar = runtime.reference().calendar
    ahead = session.scalars(
        select(Visit)
        .where(
            visible(actor),
            Visit.state == VisitState.PLANNED.value,
            Visit.visit_date >= runtime.today(),
        )
        .order_by(Visit.visit_date, Visit.start_time, Visit.station_code)
    )
    return [v for v in ahead if not calendar.is_working_day(v.visit_date)][:500]
