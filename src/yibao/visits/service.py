"""Use cases of mobile visits: plan, change, cancel, read; backlog, stale villages, the planner.

Supervisors plan (create, change, cancel, confirm a proposal); bureau officers read every
visit; clerks and station masters see the visits of their own station; auditors and admins
see none (三员分立: the backlog is case data). Each writing use case commits once, with the
visit's log entry and an audit record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.models import User
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.cases.lifecycle import State
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
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


# ---------------------------------------------------------------- checks


def _station(session: Session, agency: str, code: str) -> Station | None:
    return session.scalar(
        select(Station).where(Station.agency == agency, Station.code == code.upper())
    )


def _check_team(
    session: Session, agency: str, station: str, names: Sequence[str], prefix: str
) -> tuple[list[str], list[FieldError]]:
    team: list[str] = []
    errors: list[FieldError] = []
    wanted = [n.strip() for n in names]
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.agency == agency, User.username.in_(wanted))
        )
    }
    for i, name in enumerate(wanted):
        user = users.get(name)
        fits = (
            user is not None
            and user.active
            and user.role in TEAM_ROLES
            and (user.role == Role.BUREAU_OFFICER.value or user.station_code == station)
        )
        if not fits:
            errors.append(
                FieldError(
                    f"{prefix}team[{i}]",
                    f"'{name}' is not a member of staff of this station",
                    "不是本服务站的工作人员",
                )
            )
        elif name not in team:
            team.append(name)
    return team, errors


@dataclass(frozen=True)
class _Checked:
    station: Station
    village: str
    day: dt.date
    start: dt.time
    end: dt.time
    team: list[str]


def _check_new(
    session: Session,
    *,
    actor: Actor,
    request: VisitIn,
    today: dt.date,
    prefix: str = "",
    taken: Mapping[tuple[str, str, dt.date], int] | None = None,
) -> tuple[_Checked | None, list[FieldError]]:
    """Every check of a new visit, so the planner sees every problem at once."""
    errors: list[FieldError] = []
    station = _station(session, actor.agency, request.station_code)
    if station is None or not station.active:
        errors.append(
            FieldError(
                f"{prefix}station_code", f"unknown station '{request.station_code}'", "未知的服务站"
            )
        )
    elif station.kind != "mobile":
        errors.append(
            FieldError(
                f"{prefix}station_code",
                "only a mobile station makes visits",
                "只有流动服务站安排到访",
            )
        )
    elif request.village not in (station.villages or []):
        errors.append(
            FieldError(
                f"{prefix}village",
                f"'{request.village}' is not one of the station's villages",
                "不是该流动服务站服务的村",
            )
        )
    errors += _check_day(request.date, today, f"{prefix}date")
    start, end = request.start, request.end
    if (start is None) != (end is None):
        errors.append(
            FieldError(
                f"{prefix}end" if end is None else f"{prefix}start",
                "give both times",
                "请同时填写开始和结束时间",
            )
        )
    elif start is not None and end is not None:
        problem = rules.window_problem(start, end)
        if problem:
            errors.append(FieldError(f"{prefix}end", *problem))
    team: list[str] = []
    if station is not None:
        team, team_errors = _check_team(session, actor.agency, station.code, request.team, prefix)
        errors += team_errors
    if errors or station is None:
        return None, errors
    same_day = list(
        session.scalars(
            select(Visit).where(
                Visit.agency == actor.agency,
                Visit.station_code == station.code,
                Visit.visit_date == request.date,
                Visit.state != VisitState.CANCELLED.value,
            )
        )
    )
    key = (station.code, request.village, request.date)
    earlier = (taken or {}).get(key, 0)
    if earlier or any(v.village == request.village for v in same_day):
        errors.append(
            FieldError(
                f"{prefix}date",
                "the station already visits this village that day",
                "该流动服务站当天已安排到访该村",
            )
        )
        return None, errors
    if start is None or end is None:
        slot = len(same_day) + sum(
            n for (s, _v, d), n in (taken or {}).items() if s == station.code and d == request.date
        )
        start, end = rules.slot_window(slot)
    return _Checked(station, request.village, request.date, start, end, team), errors


def _check_day(day: dt.date, today: dt.date, field: str) -> list[FieldError]:
    if day < today:
        return [FieldError(field, "the date is in the past", "日期不能早于今天")]
    if (day - today).days > MAX_AHEAD_DAYS:
        return [FieldError(field, "at most a year ahead", "最多提前一年安排")]
    return []


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed.single("reason", "give the reason", "请填写原因")
    return text


# ---------------------------------------------------------------- writing


def _new_visit(
    session: Session, actor: Actor, checked: _Checked, note: str | None, now: dt.datetime
) -> Visit:
    station = checked.station
    assert station.town_code is not None and station.town_release is not None
    visit = Visit(
        id=uuid.uuid4(),
        agency=actor.agency,
        station_code=station.code,
        town_code=station.town_code,
        town_release=station.town_release,
        village=checked.village,
        visit_date=checked.day,
        start_time=checked.start,
        end_time=checked.end,
        team=checked.team,
        state=VisitState.PLANNED.value,
        note=note or None,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(visit)
    session.add(
        _event(
            visit,
            actor,
            seq=1,
            at=now,
            action="plan",
            detail={
                "station": visit.station_code,
                "village": visit.village,
                "date": visit.visit_date.isoformat(),
                "start": visit.start_time.strftime("%H:%M"),
                "end": visit.end_time.strftime("%H:%M"),
                "team": list(visit.team),
            },
        )
    )
    return visit


def _event(
    visit: Visit,
    actor: Actor,
    *,
    seq: int,
    at: dt.datetime,
    action: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> VisitEvent:
    return VisitEvent(
        agency=visit.agency,
        visit_id=visit.id,
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        action=action,
        reason=reason,
        detail=detail or {},
    )


def _audit(session: Session, actor: Actor, action: str, visit: Visit, **detail: Any) -> None:
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"visit.{action}",
        object_type="visit",
        object_id=str(visit.id),
        ip=actor.ip,
        detail={
            "station": visit.station_code,
            "village": visit.village,
            "date": visit.visit_date.isoformat(),
            **detail,
        },
    )


def create_visit(uow: UnitOfWork, *, runtime: Runtime, actor: Actor, request: VisitIn) -> Visit:
    """Plan one visit (supervisors)."""
    require_planner(actor)
    session = uow.session
    checked, errors = _check_new(session, actor=actor, request=request, today=runtime.today())
    if errors or checked is None:
        raise ValidationFailed(errors)
    now = runtime.now()
    visit = _new_visit(session, actor, checked, request.note, now)
    _audit(session, actor, "plan", visit)
    uow.commit()
    return visit


def confirm_plan(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, request: PlanConfirmIn
) -> list[Visit]:
    """Create every visit of a reviewed proposal in one transaction, or none of them."""
    require_planner(actor)
    session = uow.session
    today = runtime.today()
    if not request.visits:
        raise ValidationFailed.single("visits", "no visit to create", "没有要创建的到访")
    errors: list[FieldError] = []
    checked: list[tuple[_Checked, str | None]] = []
    taken: dict[tuple[str, str, dt.date], int] = defaultdict(int)
    for i, row in enumerate(request.visits):
        one, problems = _check_new(
            session, actor=actor, request=row, today=today, prefix=f"visits[{i}].", taken=taken
        )
        errors += problems
        if one is not None:
            checked.append((one, row.note))
            taken[(one.station.code, one.village, one.day)] += 1
    if errors:
        raise ValidationFailed(errors)
    now = runtime.now()
    visits = []
    for one, note in checked:
        visit = _new_visit(session, actor, one, note, now)
        _audit(session, actor, "plan", visit, planner=True)
        visits.append(visit)
    uow.commit()
    return visits


def _current(
    session: Session, actor: Actor, visit_id: uuid.UUID, version: int
) -> tuple[Visit, int]:
    visit = _load(session, actor, visit_id)
    if version != visit.version:
        raise Conflict(
            f"the visit changed (now version {visit.version}, state {visit.state})",
            current_version=visit.version,
            current_state=visit.state,
        )
    last = session.scalar(select(func.max(VisitEvent.seq)).where(VisitEvent.visit_id == visit.id))
    return visit, int(last or 0)


def _commit(uow: UnitOfWork, runtime: Runtime, visit_id: uuid.UUID) -> None:
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.get(Visit, visit_id)
        raise Conflict(
            "the visit changed while you were changing it",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None


def _require_planned(visit: Visit) -> None:
    if visit.state != VisitState.PLANNED.value:
        raise ValidationFailed.single(
            "state",
            f"the visit is {visit.state}; only a planned visit can change",
            "只有计划中的到访可以修改或取消",
        )


def change_visit(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    visit_id: uuid.UUID,
    request: VisitChangeIn,
) -> Visit:
    """Move a planned visit (day, hours, village, team); the reason goes into its log."""
    require_planner(actor)
    session = uow.session
    visit, last = _current(session, actor, visit_id, request.version)
    _require_planned(visit)
    errors: list[FieldError] = []
    reason = (request.reason or "").strip()
    if not reason:
        errors.append(FieldError("reason", "give the reason", "请填写原因"))
    today = runtime.today()
    changes: dict[str, list[Any]] = {}
    day = request.date if request.date is not None else visit.visit_date
    if request.date is not None and request.date != visit.visit_date:
        errors += _check_day(request.date, today, "date")
        changes["date"] = [visit.visit_date.isoformat(), request.date.isoformat()]
    start = request.start or visit.start_time
    end = request.end or visit.end_time
    problem = rules.window_problem(start, end)
    if problem:
        errors.append(FieldError("end", *problem))
    if start != visit.start_time:
        changes["start"] = [visit.start_time.strftime("%H:%M"), start.strftime("%H:%M")]
    if end != visit.end_time:
        changes["end"] = [visit.end_time.strftime("%H:%M"), end.strftime("%H:%M")]
    village = request.village or visit.village
    station = _station(session, actor.agency, visit.station_code)
    if village != visit.village:
        if station is None or village not in (station.villages or []):
            errors.append(
                FieldError(
                    "village",
                    f"'{village}' is not one of the station's villages",
                    "不是该流动服务站服务的村",
                )
            )
        changes["village"] = [visit.village, village]
    team = list(visit.team or [])
    if request.team is not None:
        team, team_errors = _check_team(session, actor.agency, visit.station_code, request.team, "")
        errors += team_errors
        if team != list(visit.team or []):
            changes["team"] = [list(visit.team or []), team]
    if not changes and not errors:
        errors.append(
            FieldError(
                "body", "nothing changes: give a new date, time, village or team", "没有修改内容"
            )
        )
    if not errors and ("date" in changes or "village" in changes):
        clash = session.scalar(
            select(func.count()).where(
                Visit.agency == actor.agency,
                Visit.station_code == visit.station_code,
                Visit.visit_date == day,
                Visit.village == village,
                Visit.state != VisitState.CANCELLED.value,
                Visit.id != visit.id,
            )
        )
        if clash:
            errors.append(
                FieldError(
                    "date",
                    "the station already visits this village that day",
                    "该流动服务站当天已安排到访该村",
                )
            )
    if errors:
        raise ValidationFailed(errors)
    now = runtime.now()
    visit.visit_date, visit.start_time, visit.end_time = day, start, end
    visit.village, visit.team = village, team
    visit.reason, visit.updated_at = reason, now
    session.add(
        _event(visit, actor, seq=last + 1, at=now, action="change", reason=reason, detail=changes)
    )
    _audit(session, actor, "change", visit, changes=changes, reason=reason)
    _commit(uow, runtime, visit.id)
    return visit


def cancel_visit(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    visit_id: uuid.UUID,
    request: VisitCancelIn,
) -> Visit:
    """Cancel a planned visit, with the reason (citizens no longer see it)."""
    require_planner(actor)
    session = uow.session
    visit, last = _current(session, actor, visit_id, request.version)
    _require_planned(visit)
    reason = _reason(request.reason)
    now = runtime.now()
    visit.state, visit.reason, visit.updated_at = VisitState.CANCELLED.value, reason, now
    session.add(_event(visit, actor, seq=last + 1, at=now, action="cancel", reason=reason))
    _audit(session, actor, "cancel", visit, reason=reason)
    _commit(uow, runtime, visit.id)
    return visit


def mark_done(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    visit_id: uuid.UUID,
    request: VisitDoneIn,
) -> Visit:
    """Record that the visit took place (the station's own staff, or a supervisor)."""
    own_station = actor.role in STATION_ROLES
    if actor.role is not Role.SUPERVISOR and not own_station:
        raise Forbidden("only the station's staff or a supervisor reports a visit done")
    session = uow.session
    visit, last = _current(session, actor, visit_id, request.version)
    _require_planned(visit)
    if visit.visit_date > runtime.today():
        raise ValidationFailed.single(
            "date", "the visit has not happened yet", "到访日期未到，不能标记为已到访"
        )
    now = runtime.now()
    visit.state, visit.updated_at = VisitState.DONE.value, now
    session.add(_event(visit, actor, seq=last + 1, at=now, action="done"))
    _audit(session, actor, "done", visit)
    _commit(uow, runtime, visit.id)
    return visit


# ---------------------------------------------------------------- reading


def check_filter(session: Session, *, agency: str, f: VisitFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.station and _station(session, agency, f.station) is None:
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
