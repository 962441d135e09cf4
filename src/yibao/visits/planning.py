"""The planner's use cases: past demand per village, a proposal for a period, the review of
an adjusted one (nothing here writes: a proposal is confirmed through ``commands.confirm_plan``).

Every proposed date is a working day of the node's calendar; a date in a year without an
official schedule is an estimate, and the proposal says so.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.accounts.rules import Actor, Role
from yibao.cases.models import Case
from yibao.errors import FieldError, ValidationFailed
from yibao.runtime import Runtime
from yibao.visits import planner, rules
from yibao.visits.attention import last_visits
from yibao.visits.models import Visit
from yibao.visits.planner import Place
from yibao.visits.rules import VisitState
from yibao.visits.service import (
    MAX_AHEAD_DAYS,
    PlanIn,
    mobile_stations,
    require_planner,
    team_places,
)


def demand(
    session: Session, *, runtime: Runtime, since: dt.date, until: dt.date
) -> dict[Place, float]:
    """Cases per village taken by mobile stations in [since, until].

    A case counts for its visit's village; a case without one for the visits its station made
    that day, shared equally, or for the station's villages when it made none.
    """
    agency = runtime.agency
    stations = {s.code: s for s in mobile_stations(session, agency=agency)}
    rows = session.execute(
        select(Case.visit_id, Case.intake_station, Case.intake_date, func.count())
        .where(
            Case.agency == agency,
            # The capture time bounds let the (agency, received_at) index narrow the scan.
            Case.received_at >= dt.datetime.combine(since, dt.time(0), runtime.tz),
            Case.received_at
            < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), runtime.tz),
            Case.intake_date >= since,
            Case.intake_date <= until,
            or_(Case.visit_id.is_not(None), Case.intake_station.in_(list(stations))),
        )
        .group_by(Case.visit_id, Case.intake_station, Case.intake_date)
    ).all()
    visits: dict[uuid.UUID, Place] = {}
    day_places: dict[tuple[str, dt.date], list[Place]] = defaultdict(list)
    for v in session.scalars(
        select(Visit).where(
            Visit.agency == agency,
            Visit.visit_date >= since,
            Visit.visit_date <= until,
            Visit.state != VisitState.CANCELLED.value,
        )
    ):
        visits[v.id] = (v.town_code, v.village)
        day_places[(v.station_code, v.visit_date)].append((v.town_code, v.village))
    out: dict[Place, float] = defaultdict(float)
    for visit_id, station, day, count in rows:
        place = visits.get(visit_id) if visit_id is not None else None
        if place is not None:
            out[place] += int(count)
            continue
        keys = day_places.get((station, day)) or (
            team_places(stations[station]) if station in stations else []
        )
        for p, share in rules.split_evenly(float(count), keys).items():
            out[p] += share
    return dict(out)


def _plan_request(
    session: Session, *, runtime: Runtime, actor: Actor, request: PlanIn
) -> planner.PlanRequest:
    teams = tuple(
        planner.Team(s.code, tuple(team_places(s)), request.capacity)
        for s in mobile_stations(session, agency=actor.agency)
    )
    today = runtime.today()
    demand_map = demand(
        session,
        runtime=runtime,
        since=today - dt.timedelta(days=planner.DEMAND_DAYS - 1),
        until=today,
    )
    last = last_visits(
        session,
        agency=actor.agency,
        before=request.date_from - dt.timedelta(days=1),
        planned_from=today,
    )
    booked = tuple(
        planner.Booked(v.station_code, (v.town_code, v.village), v.visit_date)
        for v in session.scalars(
            select(Visit).where(
                Visit.agency == actor.agency,
                Visit.state != VisitState.CANCELLED.value,
                Visit.visit_date >= request.date_from,
                Visit.visit_date <= request.date_to,
            )
        )
    )
    return planner.PlanRequest(
        start=request.date_from,
        end=request.date_to,
        teams=teams,
        interval=request.interval_days,
        demand=demand_map,
        last_visit=last,
        booked=booked,
    )


def check_plan_input(request: PlanIn, today: dt.date) -> None:
    """Refuse a period the planner cannot plan, naming the field."""
    errors: list[FieldError] = []
    if request.date_from < today:
        errors.append(
            FieldError("date_from", "the period starts in the past", "开始日期不能早于今天")
        )
    if request.date_to < request.date_from:
        errors.append(FieldError("date_to", "the end is before the start", "结束日期早于开始日期"))
    elif (request.date_to - request.date_from).days + 1 > planner.MAX_PERIOD_DAYS:
        errors.append(
            FieldError(
                "date_to",
                f"at most {planner.MAX_PERIOD_DAYS} days",
                f"规划区间最长 {planner.MAX_PERIOD_DAYS} 天",
            )
        )
    elif (request.date_from - today).days > MAX_AHEAD_DAYS:
        errors.append(FieldError("date_from", "at most a year ahead", "最多提前一年安排"))
    if errors:
        raise ValidationFailed(errors)


def propose(
    session: Session, *, runtime: Runtime, actor: Actor, request: PlanIn
) -> planner.Proposal:
    """A proposed itinerary for the period (nothing is written)."""
    require_planner(actor)
    check_plan_input(request, runtime.today())
    plan = _plan_request(session, runtime=runtime, actor=actor, request=request)
    return planner.propose(plan, runtime.reference().calendar)


def review(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    request: PlanIn,
    visits: Sequence[planner.Proposed],
) -> planner.Check:
    """Gaps, overloaded days and days off of an adjusted proposal (nothing is written)."""
    require_planner(actor)
    check_plan_input(request, runtime.today())
    plan = _plan_request(session, runtime=runtime, actor=actor, request=request)
    return planner.check(plan, visits, runtime.reference().calendar)


def default_teams(session: Session, *, agency: str) -> dict[str, list[str]]:
    """The staff of each station who go out on its visits (clerks and the master)."""
    out: dict[str, list[str]] = defaultdict(list)
    for u in session.scalars(
        select(User)
        .where(
            User.agency == agency,
            User.active,
            User.role.in_([Role.CLERK.value, Role.STATION_MASTER.value]),
        )
        .order_by(User.username)
    ):
        if u.station_code:
            out[u.station_code].append(u.username)
    return dict(out)
