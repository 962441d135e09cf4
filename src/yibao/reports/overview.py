"""The bureau overview's station table: every station side by side over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.models import Case
from yibao.cases.service import visible
from yibao.reports.measures import Acc, Measures, fetch, rollup, total_of
from yibao.reports.period import OverviewFilter
from yibao.reports.stations import (
    active_stations,
    check_overview_filter,
    chosen_stations,
    require_agency_wide,
    towns_of,
)
from yibao.runtime import Runtime
from yibao.stations.models import STATION_KINDS


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


def bureau_overview(
    session: Session, *, runtime: Runtime, actor: Actor, filters: OverviewFilter
) -> Overview:
    """Every station of the agency side by side (bureau officers and supervisors only)."""
    require_agency_wide(actor)
    every = active_stations(session, actor.agency)
    towns = towns_of(every)
    check_overview_filter(filters, towns)
    stations = chosen_stations(every, filters)
    codes = [s.code for s, _ in stations]
    groups: dict[Any, Acc] = {}
    if codes:
        raw = fetch(
            session,
            runtime=runtime,
            keys=[Case.intake_station],
            scope=and_(visible(actor), Case.intake_station.in_(codes)),
            period=filters.period,
        )
        groups = rollup(
            raw, group=lambda k: k[0], period=filters.period, calendar=runtime.reference().calendar
        )
    rows = [
        StationRow(
            code=s.code,
            name=s.name,
            kind=s.kind,
            town_code=s.town_code,
            town_name=town,
            measures=groups.get(s.code, Acc()).freeze(),
        )
        for s, town in stations
    ]
    return Overview(
        today=runtime.today(),
        filters=filters,
        rows=rows,
        total=total_of(groups.values()),
        kinds=STATION_KINDS,
        towns=towns,
    )
