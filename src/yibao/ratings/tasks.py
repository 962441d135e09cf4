"""Rectification tasks (整改) of bad ratings: opening, scope, lists, actions.

A task is owned by the person who completed the case (谁办理、谁负责), else by the master of
the station that completed it. Clerks list their own tasks, station masters their station's,
bureau officers and supervisors the agency's (supervisors decide appeals). Each action goes
through ``rules.decide`` and commits once with its log entry and an audit record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.models import User
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.cases.models import Case
from yibao.cases.service import require_case_role
from yibao.cases.service import visible as visible_cases
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, NotFound, ValidationFailed
from yibao.ratings import rules
from yibao.ratings.models import FollowUp, Rating, RectificationTask, TaskEvent
from yibao.ratings.rules import FollowUpMethod, Standing, TaskAction, TaskState
from yibao.runtime import Runtime
from yibao.text import has_control

STAFF_ROLES = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
MAX_PAGE = 200
_ORDER = "due"


# ---------------------------------------------------------------- input


class TaskActionIn(BaseModel):
    """One action on a rectification task, at the version the actor saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: str = Field(
        max_length=20, description="follow_up | rectify | close | appeal | uphold | dismiss"
    )
    version: int = Field(ge=1)
    note: str | None = Field(
        default=None,
        max_length=rules.NOTE_MAX,
        description="rectification, grounds of the appeal, or reason of the decision",
    )
    method: str | None = Field(
        default=None, max_length=12, description="follow-up: phone | visit | sms | in_person"
    )
    followed_at: datetime | None = Field(default=None, description="follow-up: when (default now)")
    outcome: str | None = Field(default=None, max_length=rules.NOTE_MAX, description="follow-up")


@dataclass(frozen=True)
class TaskFilter:
    """Filters of the task list; all optional."""

    scope: str | None = None  # mine | station | all (default by role)
    state: str | None = None
    station: str | None = None
    overdue: bool | None = None


# ---------------------------------------------------------------- opening


def _station_master(session: Session, agency: str, station: str) -> User | None:
    return session.scalar(
        select(User)
        .where(
            User.agency == agency,
            User.station_code == station,
            User.role == Role.STATION_MASTER.value,
            User.active,
        )
        .order_by(User.id)
        .limit(1)
    )


def open_task(
    session: Session,
    *,
    runtime: Runtime,
    case: Case,
    rating: Rating,
    now: datetime,
    ip: str | None,
) -> RectificationTask:
    owner_id, owner_name = rating.handler_id, rating.handler_name
    if owner_id is None:
        master = _station_master(session, case.agency, case.unit)
        if master is not None:
            owner_id, owner_name = master.id, master.display_name or master.username
    today = runtime.local_date(now)
    due = rules.rectify_due(
        runtime.reference(session).calendar, today, runtime.settings.rating_rectify_days
    )
    task = RectificationTask(
        id=uuid.uuid4(),
        agency=case.agency,
        rating_id=rating.id,
        case_id=case.id,
        case_no=case.case_no,
        station_code=case.unit,
        owner_id=owner_id,
        owner_name=owner_name,
        state=rules.INITIAL.value,
        opened_date=today,
        due_date=due.date,
        due_estimated=due.estimated,
        follow_ups=0,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()  # before its log entry
    session.add(
        TaskEvent(
            agency=case.agency,
            task_id=task.id,
            seq=1,
            at=now,
            actor_id=None,
            actor_name="系统",
            action="open",
            from_state=None,
            to_state=task.state,
            note=f"overall {rating.overall}",
        )
    )
    audit.record(
        session,
        agency=case.agency,
        actor_id=None,
        actor_name="system",
        action="rating.task.open",
        object_type="rating_task",
        object_id=str(task.id),
        ip=ip,
        detail={"case_no": case.case_no, "owner_id": owner_id, "due_date": due.date.isoformat()},
    )
    return task


# ---------------------------------------------------------------- presenting


def task_dict(task: RectificationTask, *, today: date) -> dict[str, Any]:
    """A task as the API and the pages show it."""
    state = TaskState(task.state)
    return {
        "id": str(task.id),
        "case_no": task.case_no,
        "station_code": task.station_code,
        "owner_id": task.owner_id,
        "owner_name": task.owner_name,
        "state": state.value,
        "state_label": rules.STATE_LABELS[state][0],
        "opened_date": task.opened_date.isoformat(),
        "due_date": task.due_date.isoformat(),
        "due_estimated": task.due_estimated,
        "overdue": rules.overdue(state, task.due_date, today),
        "follow_ups": task.follow_ups,
        "followed_up_date": task.followed_up_date.isoformat() if task.followed_up_date else None,
        "rectified_date": task.rectified_date.isoformat() if task.rectified_date else None,
        "rectified_on_time": rules.on_time(task.rectified_date, task.due_date)
        if task.rectified_date
        else None,
        "rectification": task.rectification,
        "appeal_reason": task.appeal_reason,
        "decision": task.decision,
        "decision_note": task.decision_note,
        "closed_date": task.closed_date.isoformat() if task.closed_date else None,
        "outcome": task.outcome,
        "version": task.version,
    }


def follow_up_dict(f: FollowUp) -> dict[str, Any]:
    """A follow-up record."""
    return {
        "followed_at": f.followed_at.isoformat(),
        "method": f.method,
        "method_label": rules.FOLLOW_UP_LABELS[FollowUpMethod(f.method)][0],
        "outcome": f.outcome,
        "recorded_by": f.recorded_name,
    }


def event_dict(e: TaskEvent) -> dict[str, Any]:
    """An entry of a task's log."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor_name,
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
    }


# ---------------------------------------------------------------- scope and reads


def require_reader(actor: Actor) -> None:
    """Roles without case data (auditor, admin) see no ratings."""
    require_case_role(actor)


def visible_tasks(actor: Actor) -> ColumnElement[bool]:
    """Tasks this actor may see: the agency's; else the station's, one's own, and those of
    cases one may see."""
    T = RectificationTask
    own = T.agency == actor.agency
    if actor.agency_wide:
        return own
    if actor.role in STATION_ROLES and actor.unit:
        return and_(
            own,
            or_(
                T.station_code == actor.unit,
                T.owner_id == actor.id,
                T.case_id.in_(select(Case.id).where(visible_cases(actor))),
            ),
        )
    return and_(own, false())


def standings(actor: Actor, task: RectificationTask) -> set[Standing]:
    """How the actor stands to the task (what the MAY table checks)."""
    out: set[Standing] = set()
    if task.owner_id is not None and task.owner_id == actor.id and actor.role in STAFF_ROLES:
        out.add(Standing.OWNER)
    if actor.role is Role.STATION_MASTER and actor.unit == task.station_code:
        out.add(Standing.MASTER)
    if actor.role is Role.BUREAU_OFFICER:
        out.add(Standing.BUREAU)
    if actor.role is Role.SUPERVISOR:
        out.add(Standing.SUPERVISOR)
    return out


def allowed_for(actor: Actor, task: RectificationTask) -> list[TaskAction]:
    """The actions this actor may take on the task now (for the buttons)."""
    return rules.actions_for(TaskState(task.state), standings(actor, task))


def _parse_id(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(task_id))
    except ValueError:
        raise NotFound("no such rectification task") from None


def get_task(session: Session, *, actor: Actor, task_id: str) -> RectificationTask:
    """One task the actor may see (404 otherwise)."""
    require_reader(actor)
    task = session.scalar(
        select(RectificationTask).where(
            visible_tasks(actor), RectificationTask.id == _parse_id(task_id)
        )
    )
    if task is None:
        raise NotFound("no such rectification task")
    return task


def task_rating(session: Session, task: RectificationTask) -> Rating:
    """The rating behind a task."""
    rating = session.get(Rating, task.rating_id)
    assert rating is not None
    return rating


def follow_ups(session: Session, *, task: RectificationTask) -> list[FollowUp]:
    """The follow-ups of a task, oldest first."""
    return list(
        session.scalars(
            select(FollowUp).where(FollowUp.task_id == task.id).order_by(FollowUp.followed_at)
        )
    )


def task_events(session: Session, *, task: RectificationTask) -> list[TaskEvent]:
    """The log of a task, oldest first."""
    return list(
        session.scalars(
            select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.seq)
        )
    )


def default_scope(actor: Actor) -> str:
    """Clerks see their own tasks, station masters their station's, the bureau all."""
    if actor.agency_wide:
        return "all"
    return "station" if actor.role is Role.STATION_MASTER else "mine"


def check_filter(f: TaskFilter, actor: Actor, units: dict[str, str]) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    if f.scope is not None and f.scope not in ("mine", "station", "all"):
        errors.append(FieldError("scope", "one of mine, station, all", "未知的范围"))
    if f.state is not None and f.state not in {s.value for s in TaskState}:
        errors.append(FieldError("state", f"unknown state '{f.state}'", "未知的状态"))
    if f.station is not None and f.station.upper() not in units:
        errors.append(FieldError("station", f"unknown station '{f.station}'", "未知的服务站"))
    if errors:
        raise ValidationFailed(errors)


def list_tasks(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: TaskFilter,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[RectificationTask], str | None]:
    """A page of tasks the actor may see, most urgent first, and the cursor of the next."""
    require_reader(actor)
    check_filter(filters, actor, runtime.reference().units)
    T = RectificationTask
    stmt: Select[Any] = select(T).where(visible_tasks(actor))
    scope = filters.scope or default_scope(actor)
    if actor.role is Role.CLERK:
        scope = "mine"  # a clerk's list is their own tasks (a case's page still shows its task)
    if scope == "mine":
        stmt = stmt.where(T.owner_id == actor.id)
    elif scope == "station":
        stmt = stmt.where(T.station_code == (actor.unit or ""))
    if filters.state:
        stmt = stmt.where(T.state == filters.state)
    if filters.station:
        stmt = stmt.where(T.station_code == filters.station.upper())
    today = runtime.today()
    open_states = (TaskState.OPEN.value, TaskState.APPEALED.value)
    if filters.overdue is True:
        stmt = stmt.where(T.state.in_(open_states), T.due_date < today)
    elif filters.overdue is False:
        stmt = stmt.where(or_(T.state.not_in(open_states), T.due_date >= today))
    if cursor:
        values = decode_cursor(cursor, _ORDER, runtime.settings.secret_key)
        try:
            due, ident = date.fromisoformat(values[0]), uuid.UUID(values[1])
        except (ValueError, IndexError):
            raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None
        stmt = stmt.where(or_(T.due_date > due, and_(T.due_date == due, T.id > ident)))
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(session.scalars(stmt.order_by(T.due_date, T.id).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            _ORDER, [last.due_date.isoformat(), str(last.id)], runtime.settings.secret_key
        )
    return rows, next_cursor


def count_appealed(session: Session, *, actor: Actor) -> int:
    """How many appeals wait for a decision among the tasks the actor may see."""
    require_reader(actor)
    T = RectificationTask
    return int(
        session.scalar(
            select(func.count()).where(visible_tasks(actor), T.state == TaskState.APPEALED.value)
        )
        or 0
    )


# ---------------------------------------------------------------- actions


def act(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, task_id: str, request: TaskActionIn
) -> RectificationTask:
    """Apply one action to a task at the version the actor saw; a follow-up adds its record."""
    session = uow.session
    task = get_task(session, actor=actor, task_id=task_id)
    try:
        action = TaskAction(request.action)
    except ValueError:
        raise ValidationFailed.single(
            "action",
            f"unknown action; one of {', '.join(a.value for a in TaskAction)}",
            "未知的操作",
        ) from None
    if request.version != task.version:
        raise Conflict(
            f"the task changed (now version {task.version}, state {task.state})",
            current_version=task.version,
            current_state=task.state,
        )
    now = runtime.now()
    today = runtime.today()
    decision = rules.decide(
        rules.TaskSnapshot(TaskState(task.state), task.due_date, task.follow_ups),
        action,
        standings(actor, task),
        today=today,
        note=request.note,
    )
    # Read before the first change, so no autoflush sends the UPDATE ahead of the commit below.
    last = session.scalar(select(func.max(TaskEvent.seq)).where(TaskEvent.task_id == task.id))
    detail: dict[str, Any] = {"from": decision.from_state.value, "to": decision.to_state.value}
    note = decision.note
    if action is TaskAction.FOLLOW_UP:
        record = _check_follow_up(request, now=now, opened=task.created_at)
        record.agency, record.task_id = task.agency, task.id
        record.recorded_by, record.recorded_name = actor.id, actor.display_name or actor.username
        session.add(record)
        task.follow_ups = task.follow_ups + 1
        if task.followed_up_date is None:
            task.followed_up_date = runtime.local_date(record.followed_at)
        detail.update(method=record.method)
        note = f"{rules.FOLLOW_UP_LABELS[FollowUpMethod(record.method)][0]}：{record.outcome}"
    for column, value in decision.changes.items():
        setattr(task, column, value)
    task.state = decision.to_state.value
    task.updated_at = now
    session.add(
        TaskEvent(
            agency=task.agency,
            task_id=task.id,
            seq=int(last or 0) + 1,
            at=now,
            actor_id=actor.id,
            actor_name=actor.display_name or actor.username,
            action=action.value,
            from_state=decision.from_state.value,
            to_state=decision.to_state.value,
            note=note,
        )
    )
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"rating.task.{action.value}",
        object_type="rating_task",
        object_id=str(task.id),
        ip=actor.ip,
        detail={"case_no": task.case_no, **detail},
    )
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.get(RectificationTask, task.id)
        raise Conflict(
            "the task changed while you were acting",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None
    return task


def _check_follow_up(request: TaskActionIn, *, now: datetime, opened: datetime) -> FollowUp:
    errors: list[FieldError] = []
    method = (request.method or "").strip()
    if method not in {m.value for m in FollowUpMethod}:
        errors.append(FieldError("method", "one of phone, visit, sms, in_person", "请选择回访方式"))
    outcome = (request.outcome or "").strip()
    if not outcome:
        errors.append(FieldError("outcome", "describe the outcome", "请填写回访结果"))
    elif has_control(outcome):
        errors.append(FieldError("outcome", "control characters", "含有无效字符"))
    when = request.followed_at or now
    if when.tzinfo is None:
        errors.append(
            FieldError("followed_at", "give the time with its offset", "回访时间须含时区")
        )
    elif when > now + timedelta(minutes=5):
        errors.append(
            FieldError("followed_at", "the time is in the future", "回访时间不能晚于现在")
        )
    elif when < opened - timedelta(days=1):
        errors.append(
            FieldError("followed_at", "before the task was opened", "回访时间早于整改任务")
        )
    if errors:
        raise ValidationFailed(errors)
    return FollowUp(followed_at=when, method=method, outcome=outcome, created_at=now)
