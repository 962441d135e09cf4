"""What citizens see of the itineraries: the next visits to a village (no login) and, for a
case waiting for materials, the next chance to bring them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yibao.cases.models import Case
from yibao.errors import ValidationFailed
from yibao.runtime import Reference, Runtime
from yibao.stations.models import Town
from yibao.visits import rules
from yibao.visits.models import Village, Visit
from yibao.visits.rules import VisitState
from yibao.visits.service import _PENDING, LOCAL_TZ, PUBLIC_NEXT, places_of_cases, town_names


def next_visits(
    session: Session,
    *,
    runtime: Runtime,
    village: str,
    town: str | None = None,
    limit: int = PUBLIC_NEXT,
) -> list[Visit]:
    """The next planned visits to a village (by name; ``town`` narrows a name two towns use)."""
    name = (village or "").strip()
    if not name:
        raise ValidationFailed.single("village", "give the village", "请选择村")
    stmt = select(Village).where(Village.agency == runtime.agency, Village.name == name)
    if town:
        stmt = stmt.where(
            or_(
                Village.town_code == town,
                Village.town_code.in_(
                    select(Town.code).where(Town.agency == runtime.agency, Town.name == town)
                ),
            )
        )
    places = {(v.town_code, v.name) for v in session.scalars(stmt)}
    if not places:
        raise ValidationFailed.single("village", f"unknown village '{name}'", "未找到该村")
    today = runtime.today()
    return list(
        session.scalars(
            select(Visit)
            .where(
                Visit.agency == runtime.agency,
                Visit.state == VisitState.PLANNED.value,
                Visit.visit_date >= today,
                Visit.village == name,
                Visit.town_code.in_(sorted({t for t, _ in places})),
            )
            .order_by(Visit.visit_date, Visit.start_time)
            .limit(limit)
        )
    )


def public_visit(visit: Visit, ref: Reference, towns: Mapping[str, str]) -> dict[str, Any]:
    """What a citizen sees of a visit: where, when, which station (not who)."""
    return {
        "date": visit.visit_date.isoformat(),
        "weekday": rules.WEEKDAYS_ZH[visit.visit_date.weekday()],
        "start": visit.start_time.strftime("%H:%M"),
        "end": visit.end_time.strftime("%H:%M"),
        "village": visit.village,
        "town_code": visit.town_code,
        "town_name": towns.get(visit.town_code, visit.town_code),
        "station_name": ref.unit_names.get(visit.station_code, visit.station_code),
        "estimated": not ref.calendar.is_official(visit.visit_date.year),
    }


def next_visit_for_case(
    session: Session,
    *,
    ref: Reference,
    today: dt.date,
    case: Case,
    tz: tzinfo = LOCAL_TZ,
) -> dict[str, Any] | None:
    """For a case waiting for materials at a mobile station: the station's next visit to the
    case's village (else to any village of its round), as a citizen sees it; else None."""
    if case.state != _PENDING or ref.units.get(case.unit) != "mobile":
        return None
    place = places_of_cases(session, [case], tz=tz).get(case.id)
    base = select(Visit).where(
        Visit.agency == case.agency,
        Visit.station_code == case.unit,
        Visit.state == VisitState.PLANNED.value,
        Visit.visit_date > today,  # the next chance: a day to come
    )
    order = (Visit.visit_date, Visit.start_time)
    visit = None
    if place is not None:
        visit = session.scalar(
            base.where(Visit.town_code == place[0], Visit.village == place[1])
            .order_by(*order)
            .limit(1)
        )
    same_village = visit is not None
    if visit is None:
        visit = session.scalar(base.order_by(*order).limit(1))
    if visit is None:
        return None
    out = public_visit(visit, ref, town_names(session, agency=case.agency))
    out["same_village"] = same_village
    return out
