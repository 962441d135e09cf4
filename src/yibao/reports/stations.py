"""The stations a bureau report covers: the active stations, their towns, the filter's check."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.errors import FieldError, Forbidden, ValidationFailed
from yibao.reports.period import OverviewFilter
from yibao.stations.models import STATION_KINDS, Station, Town


def active_stations(session: Session, agency: str) -> list[tuple[Station, str]]:
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
    require_agency_wide(actor)
    return towns_of(active_stations(session, actor.agency))


def towns_of(stations: Iterable[tuple[Station, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for station, town_name in stations:
        if station.town_code and station.town_code not in seen:
            seen[station.town_code] = town_name or station.town_code
    return sorted(seen.items())


def require_agency_wide(actor: Actor) -> None:
    if not actor.agency_wide:
        raise Forbidden("only bureau officers and supervisors see the overview")


def chosen_stations(
    every: Iterable[tuple[Station, str]], filters: OverviewFilter
) -> list[tuple[Station, str]]:
    """The stations (with their town's name) that the filter's kind and town choose."""
    return [
        (s, town)
        for s, town in every
        if (filters.kind is None or s.kind == filters.kind)
        and (filters.town is None or s.town_code == filters.town)
    ]
