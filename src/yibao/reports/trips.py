"""Trips saved (少跑路): cases finished away from the bureau hall, by station, town and month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.models import Case, CaseEvent
from yibao.cases.service import visible
from yibao.errors import Forbidden
from yibao.reports.measures import COMPLETED, PENDING, sum_when
from yibao.reports.period import OverviewFilter, Period
from yibao.reports.stations import (
    active_stations,
    check_overview_filter,
    chosen_stations,
    towns_of,
)
from yibao.runtime import Runtime
from yibao.stations.models import Town

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
    every = active_stations(session, actor.agency)
    towns = towns_of(every)
    if actor.agency_wide:
        check_overview_filter(filters, towns)
        stations = chosen_stations(every, filters)
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
            .where(CaseEvent.case_id == Case.id, CaseEvent.to_state == PENDING)
            .exists()
        )
        stmt = (
            select(
                Case.intake_station,
                Visit.town_code,
                Visit.village,
                Case.closed_date,
                func.count(),
                sum_when(~waited),
                sum_when(Case.unit == Case.intake_station),
            )
            .select_from(Case)
            .outerjoin(Visit, Visit.id == Case.visit_id)
            .where(
                visible(actor),
                Case.intake_station.in_(list(by_code)),
                Case.state == COMPLETED,
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
