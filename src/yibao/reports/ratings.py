"""Rating rates (好差评) of the reports: per clerk and item for a station, per station too for
the bureau."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.errors import Forbidden
from yibao.reports.overview import Overview
from yibao.reports.period import OverviewFilter, Period
from yibao.reports.stations import (
    active_stations,
    check_overview_filter,
    chosen_stations,
    require_agency_wide,
    towns_of,
)
from yibao.runtime import Runtime


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
    require_agency_wide(actor)
    shown = {r.code for r in overview.rows}
    return _bureau_tables(
        session, runtime=runtime, actor=actor, period=overview.filters.period, shown=shown
    )


def bureau_ratings(
    session: Session, *, runtime: Runtime, actor: Actor, filters: OverviewFilter
) -> list[RatingTable]:
    """The rating tables of the stations a filter chooses, without counting their cases (the
    ratings tab needs only which stations the filter shows)."""
    require_agency_wide(actor)
    every = active_stations(session, actor.agency)
    check_overview_filter(filters, towns_of(every))
    shown = {s.code for s, _ in chosen_stations(every, filters)}
    return _bureau_tables(session, runtime=runtime, actor=actor, period=filters.period, shown=shown)


def _bureau_tables(
    session: Session, *, runtime: Runtime, actor: Actor, period: Period, shown: set[str]
) -> list[RatingTable]:
    from yibao.ratings.measures import Rates, rate_table, rates

    since, until = period.date_from, period.date_to
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
