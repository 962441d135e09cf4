"""Mobile visits: input shapes, villages, who sees what, how a visit is shown, reading, and
the village each case belongs to. Writing is in commands.py, the bureau's lists in
attention.py, the planner's use cases in planning.py, what citizens see in citizens.py.

Supervisors plan (create, change, cancel, confirm a proposal); bureau officers read every
visit; clerks and station masters see the visits of their own station; auditors and admins
see none (三员分立: the backlog is case data). Each writing use case commits once, with the
visit's log entry and an audit record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.cases.lifecycle import State
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.errors import FieldError, Forbidden, NotFound, ValidationFailed
from yibao.runtime import Reference, Runtime
from yibao.stations.models import Station, Town
from yibao.visits import planner, rules
from yibao.visits.models import Village, Visit, VisitEvent
from yibao.visits.planner import Place
from yibao.visits.rules import VisitState

MAX_AHEAD_DAYS = 366  # a visit is planned at most a year ahead
MAX_LIST_DAYS = 366
DEFAULT_LIST_DAYS = 28
MAX_LIST = 2000
PUBLIC_NEXT = 5  # next visits shown to citizens
TEAM_ROLES = (Role.CLERK.value, Role.STATION_MASTER.value, Role.BUREAU_OFFICER.value)
_PENDING = State.MATERIALS_PENDING.value
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # as Runtime.tz: capture times are read in local time


# ---------------------------------------------------------------- input shapes


class VisitIn(BaseModel):
    """A new visit: a mobile station's team to one of its villages on one day."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    station_code: str = Field(max_length=16)
    village: str = Field(max_length=50)
    date: dt.date
    start: dt.time | None = Field(default=None, description="local time; default by slot")
    end: dt.time | None = None
    team: list[str] = Field(default_factory=list, max_length=10, description="user names")
    note: str | None = Field(default=None, max_length=500)


class VisitChangeIn(BaseModel):
    """A change of a planned visit, with the reason and the version the planner saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=500)
    date: dt.date | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    village: str | None = Field(default=None, max_length=50)
    team: list[str] | None = Field(default=None, max_length=10)


class VisitCancelIn(BaseModel):
    """The cancellation of a planned visit, with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=500)


class VisitDoneIn(BaseModel):
    """The team reports the visit took place."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)


class PlanIn(BaseModel):
    """What the planner should cover."""

    model_config = ConfigDict(extra="forbid")

    date_from: dt.date
    date_to: dt.date
    interval_days: int = Field(default=planner.DEFAULT_INTERVAL, ge=1, le=366)
    capacity: int = Field(default=planner.DEFAULT_CAPACITY, ge=1, le=10)


class PlanConfirmIn(BaseModel):
    """The visits of a reviewed proposal to create, all or none."""

    model_config = ConfigDict(extra="forbid")

    visits: list[VisitIn] = Field(max_length=5000)


@dataclass(frozen=True)
class VisitFilter:
    """Filters of the visit list; all optional."""

    station: str | None = None
    town: str | None = None
    village: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    state: str | None = None


# ---------------------------------------------------------------- reference data


def _village_file(agency: str) -> dict[str, Any] | None:
    path = resources.files("yibao.visits").joinpath(f"data/villages-{agency}.yaml")
    if not path.is_file():
        return None
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


def load_villages(session: Session, *, agency: str) -> int:
    """Insert or update the agency's villages; a village a station names but the file lacks is
    added without a distance. Returns how many villages the agency has."""
    data = _village_file(agency) or {"towns": []}
    release = str(data.get("release", ""))
    existing = {
        (v.town_code, v.town_release, v.name): v
        for v in session.scalars(select(Village).where(Village.agency == agency))
    }
    seen: set[tuple[str, str, str]] = set()
    for town in data["towns"]:
        code = str(town["town"])
        rel = str(town.get("release", release))
        for v in town["villages"]:
            key = (code, rel, str(v["name"]))
            row = existing.get(key) or Village(
                agency=agency, town_code=code, town_release=rel, name=key[2]
            )
            row.distance_km = v.get("distance_km")
            row.travel_minutes = v.get("travel_minutes")
            row.approximate = bool(v.get("approximate", True))
            session.add(row)
            existing[key] = row
            seen.add(key)
    for station in session.scalars(select(Station).where(Station.agency == agency)):
        if not station.town_code or not station.town_release:
            continue
        for name in station.villages or []:
            key = (station.town_code, station.town_release, name)
            if key not in existing:
                existing[key] = Village(
                    agency=agency,
                    town_code=key[0],
                    town_release=key[1],
                    name=name,
                    approximate=True,
                )
                session.add(existing[key])
    session.flush()
    return len(existing)


def list_villages(session: Session, *, agency: str) -> list[Village]:
    """Every village of the agency, by town and name."""
    return list(
        session.scalars(
            select(Village).where(Village.agency == agency).order_by(Village.town_code, Village.id)
        )
    )


def town_names(session: Session, *, agency: str) -> dict[str, str]:
    """Town code → name."""
    return {t.code: t.name for t in session.scalars(select(Town).where(Town.agency == agency))}


def mobile_stations(session: Session, *, agency: str) -> list[Station]:
    """Active mobile stations, by code."""
    return list(
        session.scalars(
            select(Station)
            .where(Station.agency == agency, Station.active, Station.kind == "mobile")
            .order_by(Station.code)
        )
    )


def team_places(station: Station) -> list[Place]:
    """The villages a mobile team serves, as (town code, name)."""
    if not station.town_code:
        return []
    return [(station.town_code, v) for v in station.villages or []]


# ---------------------------------------------------------------- scoping


def require_reader(actor: Actor) -> None:
    """Refuse roles without case data (auditor, admin): the visit pages carry backlogs."""
    if not actor.sees_cases:
        raise Forbidden(f"the role '{actor.role.value}' has no access to visits")


def require_planner(actor: Actor) -> None:
    """Only supervisors plan, change and cancel visits."""
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden("only a supervisor plans visits")


def visible(actor: Actor) -> ColumnElement[bool]:
    """The visits this actor may see: the agency's, or a station's own."""
    own = Visit.agency == actor.agency
    if actor.agency_wide:
        return own
    if actor.role in STATION_ROLES and actor.unit:
        return and_(own, Visit.station_code == actor.unit)
    return and_(own, false())


def _load(session: Session, actor: Actor, visit_id: uuid.UUID) -> Visit:
    require_reader(actor)
    visit = session.scalar(select(Visit).where(visible(actor), Visit.id == visit_id))
    if visit is None:
        raise NotFound(f"visit {visit_id} not found")
    return visit


def station_of(session: Session, agency: str, code: str) -> Station | None:
    return session.scalar(
        select(Station).where(Station.agency == agency, Station.code == code.upper())
    )


# ---------------------------------------------------------------- presenting


def visit_dict(
    visit: Visit,
    ref: Reference,
    towns: Mapping[str, str],
    *,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """A visit as the API and the pages show it."""
    state = VisitState(visit.state)
    out: dict[str, Any] = {
        "id": str(visit.id),
        "station_code": visit.station_code,
        "station_name": ref.unit_names.get(visit.station_code, visit.station_code),
        "town_code": visit.town_code,
        "town_name": towns.get(visit.town_code, visit.town_code),
        "village": visit.village,
        "date": visit.visit_date.isoformat(),
        "weekday": rules.WEEKDAYS_ZH[visit.visit_date.weekday()],
        "start": visit.start_time.strftime("%H:%M"),
        "end": visit.end_time.strftime("%H:%M"),
        "team": list(visit.team or []),
        "state": state.value,
        "state_label": rules.STATE_LABELS_ZH[state],
        "reason": visit.reason,
        "note": visit.note,
        "working_day": ref.calendar.is_working_day(visit.visit_date),
        # A year without an official schedule: its days off are an estimate.
        "estimated": not ref.calendar.is_official(visit.visit_date.year),
        "version": visit.version,
        "created_at": visit.created_at.isoformat(),
        "updated_at": visit.updated_at.isoformat(),
    }
    if today is not None:
        out["past"] = visit.visit_date < today
    return out


def event_dict(event: VisitEvent) -> dict[str, Any]:
    """One entry of a visit's log."""
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "reason": event.reason,
        "detail": event.detail or {},
    }


# ---------------------------------------------------------------- reading


def check_filter(session: Session, *, agency: str, f: VisitFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.station and station_of(session, agency, f.station) is None:
        errors.append(FieldError("station", f"unknown station '{f.station}'", "未知的服务站"))
    if f.town and f.town not in town_names(session, agency=agency):
        errors.append(FieldError("town", f"unknown town '{f.town}'", "未知的镇街"))
    if f.village:
        known = session.scalar(
            select(func.count()).where(Village.agency == agency, Village.name == f.village)
        )
        if not known:
            errors.append(FieldError("village", f"unknown village '{f.village}'", "未知的村"))
    if f.state and f.state not in {s.value for s in VisitState}:
        errors.append(FieldError("state", f"unknown state '{f.state}'", "未知的状态"))
    if f.date_from and f.date_to:
        if f.date_to < f.date_from:
            errors.append(
                FieldError("date_to", "date_to is before date_from", "结束日期早于开始日期")
            )
        elif (f.date_to - f.date_from).days + 1 > MAX_LIST_DAYS:
            errors.append(
                FieldError("date_to", f"at most {MAX_LIST_DAYS} days", f"最长 {MAX_LIST_DAYS} 天")
            )
    if errors:
        raise ValidationFailed(errors)


def list_visits(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: VisitFilter,
    limit: int = 500,
) -> tuple[list[Visit], bool]:
    """Visits the actor may see, by day and hour; and whether the list was cut at ``limit``."""
    require_reader(actor)
    today = runtime.today()
    date_from = filters.date_from or (
        filters.date_to - dt.timedelta(days=DEFAULT_LIST_DAYS - 1) if filters.date_to else today
    )
    date_to = filters.date_to or date_from + dt.timedelta(days=DEFAULT_LIST_DAYS - 1)
    f = VisitFilter(
        station=filters.station,
        town=filters.town,
        village=filters.village,
        date_from=date_from,
        date_to=date_to,
        state=filters.state,
    )
    check_filter(session, agency=actor.agency, f=f)
    stmt = select(Visit).where(
        visible(actor), Visit.visit_date >= date_from, Visit.visit_date <= date_to
    )
    if f.station:
        stmt = stmt.where(Visit.station_code == f.station.upper())
    if f.town:
        stmt = stmt.where(Visit.town_code == f.town)
    if f.village:
        stmt = stmt.where(Visit.village == f.village)
    if f.state:
        stmt = stmt.where(Visit.state == f.state)
    stmt = stmt.order_by(
        Visit.visit_date, Visit.start_time, Visit.station_code, Visit.village
    ).limit(min(limit, MAX_LIST) + 1)
    rows = list(session.scalars(stmt))
    cut = len(rows) > limit
    return rows[:limit], cut


def get_visit(session: Session, *, actor: Actor, visit_id: uuid.UUID) -> Visit:
    """One visit the actor may see (404 otherwise)."""
    return _load(session, actor, visit_id)


def events(session: Session, *, actor: Actor, visit_id: uuid.UUID) -> list[VisitEvent]:
    """The log of a visit, oldest first."""
    visit = _load(session, actor, visit_id)
    return list(
        session.scalars(
            select(VisitEvent).where(VisitEvent.visit_id == visit.id).order_by(VisitEvent.seq)
        )
    )


def cases_of_visit(session: Session, *, actor: Actor, visit_id: uuid.UUID) -> list[Case]:
    """The cases taken on a visit that the actor may see."""
    visit = _load(session, actor, visit_id)
    return list(
        session.scalars(
            select(Case)
            .where(visible_cases(actor), Case.visit_id == visit.id)
            .order_by(Case.received_at)
        )
    )


# ---------------------------------------------------------------- villages of cases


def places_of_cases(
    session: Session, cases: Iterable[Case], *, tz: tzinfo = LOCAL_TZ
) -> dict[uuid.UUID, Place | None]:
    """The village each case belongs to: its visit's, else the visit its intake station made
    at the capture time that day (see ``rules.attribute``), else None."""
    chosen = list(cases)
    linked = {c.visit_id for c in chosen if c.visit_id is not None}
    by_id: dict[uuid.UUID, Visit] = {}
    if linked:
        by_id = {v.id: v for v in session.scalars(select(Visit).where(Visit.id.in_(linked)))}
    loose = [c for c in chosen if c.visit_id is None or c.visit_id not in by_id]
    day_visits: dict[tuple[str, dt.date], list[Visit]] = defaultdict(list)
    if loose:
        stations = {c.intake_station for c in loose}
        days = {c.intake_date for c in loose}
        for v in session.scalars(
            select(Visit).where(
                Visit.agency.in_({c.agency for c in loose}),
                Visit.station_code.in_(stations),
                Visit.visit_date.in_(days),
                Visit.state != VisitState.CANCELLED.value,
            )
        ):
            day_visits[(v.station_code, v.visit_date)].append(v)
    out: dict[uuid.UUID, Place | None] = {}
    for c in chosen:
        visit = by_id.get(c.visit_id) if c.visit_id is not None else None
        if visit is None:
            candidates = day_visits.get((c.intake_station, c.intake_date), [])
            moment = c.received_at.astimezone(tz).time()
            key = rules.attribute(
                moment, [rules.Window(v.id, v.start_time, v.end_time) for v in candidates]
            )
            visit = next((v for v in candidates if v.id == key), None)
        out[c.id] = (visit.town_code, visit.village) if visit is not None else None
    return out
