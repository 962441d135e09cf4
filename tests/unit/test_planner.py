"""The itinerary planner on synthetic districts: coverage, working days, capacity, determinism."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.visits import planner
from yibao.visits.planner import Booked, PlanRequest, Proposed, Team


@cache
def calendar() -> WorkCalendar:
    """The official calendars of 2025 and 2026; 2027 is estimated (weekends and statutory holidays)."""
    return WorkCalendar(schedules_from_chinesecalendar([2025, 2026]))


def gaps(request: PlanRequest, visits: list[Proposed]) -> list[tuple[object, date, date]]:
    """Every stretch longer than the interval without a visit, computed independently."""
    days: dict[object, list[date]] = defaultdict(list)
    for b in request.booked:
        days[b.place].append(b.day)
    for v in visits:
        days[v.place].append(v.day)
    out = []
    for team in request.teams:
        for place in team.places:
            previous = request.last_visit.get(place, request.start - timedelta(days=1))
            for day in [*sorted(days[place]), request.end + timedelta(days=1)]:
                if (day - previous).days > request.interval:
                    out.append((place, previous, day))
                previous = day
    return out


@st.composite
def districts(draw: st.DrawFn) -> PlanRequest:
    """A synthetic district whose teams can keep up: each team has no more villages than it
    can visit in the working days of any half-interval of the period."""
    cal = calendar()
    start = draw(st.dates(date(2025, 1, 1), date(2027, 3, 1)))
    length = draw(st.integers(1, planner.MAX_PERIOD_DAYS))
    end = start + timedelta(days=length - 1)
    interval = draw(st.integers(5, 45))
    half = max(1, interval // 2)
    working = [
        sum(cal.is_working_day(start + timedelta(days=i + j)) for j in range(half))
        for i in range(length)
    ]
    least = min(working)
    if least == 0:  # a holiday longer than half the interval: nothing can keep up
        interval = max(interval, 2 * 12)
        half = interval // 2
        least = min(
            sum(cal.is_working_day(start + timedelta(days=i + j)) for j in range(half))
            for i in range(length)
        )
    teams = []
    demand: dict[tuple[str, str], float] = {}
    last: dict[tuple[str, str], date] = {}
    for t in range(draw(st.integers(1, 6))):
        capacity = draw(st.integers(1, 3))
        count = draw(st.integers(1, max(1, min(12, capacity * least))))
        places = tuple((f"town{t}", f"village{t}-{i}") for i in range(count))
        teams.append(Team(f"M{t:02d}", places, capacity))
        for p in places:
            demand[p] = draw(st.integers(0, 80))
            if draw(st.booleans()):
                last[p] = start - timedelta(days=draw(st.integers(1, half)))
    return PlanRequest(start, end, tuple(teams), interval, demand, last)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(districts())
def test_every_village_is_covered_on_working_days_within_capacity(request: PlanRequest) -> None:
    proposal = planner.propose(request, calendar())
    visits = list(proposal.visits)
    assert gaps(request, visits) == []
    assert proposal.check.ok
    cal = calendar()
    assert all(cal.is_working_day(v.day) for v in visits)
    assert all(request.start <= v.day <= request.end for v in visits)
    per_day = Counter((v.station, v.day) for v in visits)
    capacity = {t.station: t.capacity for t in request.teams}
    assert all(n <= capacity[station] for (station, _day), n in per_day.items())
    # A team visits only its own villages, each at most once a day.
    own = {t.station: set(t.places) for t in request.teams}
    assert all(v.place in own[v.station] for v in visits)
    assert len({(v.place, v.day) for v in visits}) == len(visits)
    # The same input gives the same proposal.
    assert planner.propose(request, calendar()) == proposal


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts(), st.data())
def test_booked_visits_count_and_are_kept(request: PlanRequest, data: st.DataObject) -> None:
    # Book one visit per team on a working day of the period; the plan builds around it.
    cal = calendar()
    days = [
        request.start + timedelta(days=i)
        for i in range((request.end - request.start).days + 1)
        if cal.is_working_day(request.start + timedelta(days=i))
    ]
    if not days:
        return
    booked = tuple(
        Booked(t.station, t.places[0], data.draw(st.sampled_from(days))) for t in request.teams
    )
    with_booked = PlanRequest(
        request.start,
        request.end,
        request.teams,
        request.interval,
        request.demand,
        request.last_visit,
        booked,
    )
    proposal = planner.propose(with_booked, cal)
    assert proposal.check.overloads == ()
    assert not {(b.place, b.day) for b in booked} & {(v.place, v.day) for v in proposal.visits}
    assert gaps(with_booked, list(proposal.visits)) == []


def test_busier_villages_are_visited_more_often() -> None:
    start = date(2026, 3, 2)
    busy, quiet, other = ("t", "busy"), ("t", "quiet"), ("t", "other")
    request = PlanRequest(
        start,
        start + timedelta(days=89),
        (Team("M01", (busy, quiet, other), 2),),
        30,
        demand={busy: 90.0, quiet: 3.0, other: 10.0},
    )
    proposal = planner.propose(request, calendar())
    count = Counter(v.place for v in proposal.visits)
    assert proposal.targets[busy] < proposal.targets[quiet] == 30
    assert count[busy] >= 2 * count[quiet]
    assert count[quiet] >= 3  # still once in every 30 days


def test_no_demand_visits_each_village_once_an_interval() -> None:
    start = date(2026, 9, 21)
    places = tuple(("t", f"v{i}") for i in range(4))
    request = PlanRequest(start, start + timedelta(days=27), (Team("M01", places, 2),), 30)
    proposal = planner.propose(request, calendar())
    # Never visited before: each village once, at the start, two a day.
    assert sorted(Counter(v.place for v in proposal.visits).values()) == [1, 1, 1, 1]
    second = start + timedelta(days=1)
    assert [v.day for v in proposal.visits] == [start, start, second, second]
    assert [v.slot for v in proposal.visits] == [0, 1, 0, 1]


def test_holidays_pull_visits_forward() -> None:
    # Last visits on 9/1-9/4; the interval ends in the National Day holiday (10/1-10/7).
    places = tuple(("t", f"v{i}") for i in range(4))
    last = {p: date(2026, 9, 1) + timedelta(days=i) for i, p in enumerate(places)}
    request = PlanRequest(
        date(2026, 9, 21),
        date(2026, 10, 20),
        (Team("M01", places, 1),),
        30,
        last_visit=last,
    )
    proposal = planner.propose(request, calendar())
    assert proposal.check.ok
    first = {v.place: v.day for v in reversed(proposal.visits)}
    assert all(day <= date(2026, 9, 30) for day in first.values())


def test_a_team_short_of_capacity_gets_gaps_reported() -> None:
    places = tuple(("t", f"v{i}") for i in range(30))
    start = date(2026, 9, 21)
    request = PlanRequest(start, start + timedelta(days=40), (Team("M01", places, 1),), 10)
    proposal = planner.propose(request, calendar())
    assert proposal.check.gaps
    assert all(g.days > 10 for g in proposal.check.gaps)
    assert proposal.check.overloads == ()


def test_check_finds_moves_onto_days_off_and_overloads() -> None:
    start = date(2026, 9, 21)
    team = Team("M01", (("t", "a"), ("t", "b"), ("t", "c")), 2)
    request = PlanRequest(start, start + timedelta(days=13), (team,), 30)
    saturday = date(2026, 9, 26)
    visits = [Proposed("M01", p, saturday, i) for i, p in enumerate(team.places)]
    found = planner.check(request, visits, calendar())
    assert len(found.days_off) == 3
    assert found.overloads == (planner.Overload("M01", saturday, 3, 2),)
    assert found.gaps == ()


def test_estimated_years_are_flagged() -> None:
    team = Team("M01", (("t", "a"),), 2)
    proposal = planner.propose(
        PlanRequest(date(2027, 1, 4), date(2027, 1, 31), (team,), 30), calendar()
    )
    assert proposal.estimated
    assert all(v.day.weekday() < 5 for v in proposal.visits)


def test_bad_requests_are_refused() -> None:
    team = Team("M01", (("t", "a"),), 2)
    start = date(2026, 9, 21)
    with pytest.raises(ValueError, match="date_to"):
        planner.propose(PlanRequest(start, start - timedelta(days=1), (team,)), calendar())
    with pytest.raises(ValueError, match="at most"):
        planner.propose(PlanRequest(start, start + timedelta(days=200), (team,)), calendar())
    with pytest.raises(ValueError, match="capacity"):
        planner.propose(PlanRequest(start, start, (Team("M01", (("t", "a"),), 0),)), calendar())


def test_a_village_two_stations_list_belongs_to_the_first() -> None:
    shared = ("t", "shared")
    teams = (Team("M02", (shared,), 2), Team("M01", (shared, ("t", "own")), 2))
    start = date(2026, 9, 21)
    proposal = planner.propose(PlanRequest(start, start + timedelta(days=6), teams), calendar())
    assert proposal.owners[shared] == "M01"
    assert {v.station for v in proposal.visits if v.place == shared} == {"M01"}


def test_every_village_of_a_station_has_its_way_to_the_hall() -> None:
    """The shipped district: each station's villages are listed under its town, with an
    approximate distance and driving time to the bureau hall."""
    from pathlib import Path

    import yaml

    import yibao

    package = Path(yibao.__file__).parent
    network = yaml.safe_load((package / "stations/data/500118.yaml").read_text("utf-8"))
    villages = yaml.safe_load((package / "visits/data/villages-500118.yaml").read_text("utf-8"))
    listed = {(t["town"], v["name"]): v for t in villages["towns"] for v in t["villages"]}
    towns = {t["code"]: t for t in network["towns"]}
    named = [(s["town"], v) for s in network["stations"] for v in s.get("villages") or []]
    assert named and all(key in listed for key in named)
    for (town, _name), v in listed.items():
        assert town in towns
        assert v["approximate"] is True
        assert v["distance_km"] >= towns[town]["distance_km"] > 0
        assert v["travel_minutes"] >= towns[town]["travel_minutes"] > 0
