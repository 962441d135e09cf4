"""The writing use cases of visits: plan one, confirm a proposal, change, cancel, report done.

Each checks its input (every bad field at once, named), writes the visit and its log entry
and an audit record, and commits once; a stale version is a 409.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.models import User
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, ValidationFailed
from yibao.runtime import Runtime
from yibao.stations.models import Station
from yibao.visits import rules
from yibao.visits.models import Visit, VisitEvent
from yibao.visits.rules import VisitState
from yibao.visits.service import (
    MAX_AHEAD_DAYS,
    TEAM_ROLES,
    PlanConfirmIn,
    VisitCancelIn,
    VisitChangeIn,
    VisitDoneIn,
    VisitIn,
    _load,
    require_planner,
    station_of,
)

# ---------------------------------------------------------------- checks


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
    station = station_of(session, actor.agency, request.station_code)
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
    station = station_of(session, actor.agency, visit.station_code)
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
