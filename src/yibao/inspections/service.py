"""Use cases of four-in-place inspections: inspect a station, act on rectification tasks, photos.

Bureau officers and supervisors inspect any station of the agency; a station master rectifies
and reports the failed items of their own station; clerks read their own station's page;
auditors and admins see nothing here (三员分立). Every writing use case commits once, with the
task events and an audit record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yibao.accounts.rules import Actor
from yibao.attachments import rules as attachment_rules
from yibao.attachments import service as attachments
from yibao.attachments.models import Attachment
from yibao.attachments.service import AttachmentInfo
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.inspections import rules
from yibao.inspections.models import (
    Inspection,
    InspectionResult,
    InspectionTask,
    InspectionTaskEvent,
)
from yibao.inspections.rules import Answer, Checked, Checklist, TaskAction, TaskState
from yibao.runtime import Runtime
from yibao.stations.models import Station

PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
ITEM_OWNER = "inspection_item"  # owner id: "<inspection id>:<item code>"
TASK_OWNER = "inspection_task"  # owner id: the task's id
INSPECTED_KINDS = ("fixed", "town", "village", "mobile")  # the bureau hall is not inspected


# ---------------------------------------------------------------- the checklist


@lru_cache(maxsize=1)
def checklist() -> Checklist:
    """The checklist shipped with the package (data/checklist.yaml)."""
    text = resources.files("yibao.inspections").joinpath("data/checklist.yaml").read_text("utf-8")
    return rules.parse_checklist(yaml.safe_load(text))


# ---------------------------------------------------------------- input shapes


class ResultIn(BaseModel):
    """One checked item: passed or not, and what the inspector saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item: str = Field(max_length=32)
    passed: bool
    note: str | None = Field(default=None, max_length=rules.NOTE_MAX)


class InspectionIn(BaseModel):
    """A new inspection of a station: every checklist item with its result."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    station_code: str = Field(max_length=16)
    date: dt.date
    inspectors: list[str] = Field(min_length=1, max_length=rules.MAX_INSPECTORS)
    results: list[ResultIn] = Field(max_length=100)
    note: str | None = Field(default=None, max_length=1000)
    deadline_days: int = Field(default=rules.DEFAULT_DEADLINE_DAYS, ge=1, le=60)


class TaskActionIn(BaseModel):
    """An action on a rectification task at the version the actor saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: TaskAction
    version: int = Field(ge=1)
    note: str | None = Field(default=None, max_length=rules.NOTE_MAX)


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the adapters hand it over."""

    filename: str | None
    content_type: str | None
    data: bytes


# ---------------------------------------------------------------- scoping


def require_reader(actor: Actor) -> None:
    """Refuse roles that see no station data (auditor, admin)."""
    if actor.role.value not in rules.READER_ROLES:
        raise Forbidden(f"the role '{actor.role.value}' has no access to inspections")


def require_inspector(actor: Actor) -> None:
    """Only the bureau (officers and supervisors) inspects."""
    if actor.role.value not in rules.INSPECTOR_ROLES:
        raise Forbidden("only a bureau officer or a supervisor inspects a station")


def visible(actor: Actor, column: Any = None) -> ColumnElement[bool]:
    """What this actor may see, on a station-code column: the agency's, or their station's."""
    col = column if column is not None else Inspection.station_code
    if actor.agency_wide:
        return true()
    if actor.role.value in rules.STATION_ROLES and actor.unit:
        return col == actor.unit
    return false()


def may_see_station(actor: Actor, code: str) -> bool:
    """Whether this actor may see the inspections of station ``code``."""
    if actor.agency_wide:
        return True
    return actor.role.value in rules.STATION_ROLES and actor.unit == code


def station_of(session: Session, *, actor: Actor, code: str) -> Station:
    """A station the actor may see (NotFound otherwise, as for a missing one)."""
    require_reader(actor)
    station = session.scalar(
        select(Station).where(Station.agency == actor.agency, Station.code == code.upper())
    )
    if station is None or not may_see_station(actor, station.code):
        raise NotFound(f"station {code} not found")
    return station


# ---------------------------------------------------------------- inspecting


def _check_photo(upload: Upload, field: str) -> None:
    kind = attachment_rules.sniff(upload.data)
    if upload.data and kind is not None and kind not in PHOTO_TYPES:
        raise ValidationFailed.single(field, "a photo must be a JPEG or PNG", "照片须为 JPG 或 PNG")


def _store_photo(
    session: Session, actor: Actor, owner_type: str, owner_id: str, upload: Upload, field: str
) -> Attachment:
    _check_photo(upload, field)
    try:
        return attachments.store(
            session,
            agency=actor.agency,
            owner_type=owner_type,
            owner_id=owner_id,
            filename=upload.filename,
            content_type=upload.content_type,
            data=upload.data,
            actor=actor,
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            [FieldError(field, e.message, e.message_zh) for e in exc.errors]
        ) from None


def create_inspection(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    request: InspectionIn,
    photos: Mapping[str, Sequence[Upload]] | None = None,
) -> Inspection:
    """Record an inspection; each failed item becomes a task for the station master."""
    require_inspector(actor)
    session = uow.session
    cl = checklist()
    today = runtime.today()
    errors: list[FieldError] = []
    station = session.scalar(
        select(Station).where(
            Station.agency == actor.agency, Station.code == request.station_code.upper()
        )
    )
    if station is None or not station.active or station.kind not in INSPECTED_KINDS:
        errors.append(
            FieldError("station_code", f"unknown station '{request.station_code}'", "未知的服务站")
        )
    errors += rules.check_date(request.date, today)
    inspectors = [n.strip() for n in request.inspectors if n.strip()]
    if not inspectors:
        errors.append(FieldError("inspectors", "name at least one inspector", "请填写检查人员"))
    elif any(len(n) > 50 for n in inspectors):
        errors.append(FieldError("inspectors", "a name is at most 50 characters", "姓名过长"))
    answers = [Answer(r.item, r.passed, r.note) for r in request.results]
    errors += rules.check_answers(cl, answers)
    for code in photos or {}:
        if cl.item(code) is None:
            errors.append(FieldError(f"photos.{code}", "unknown checklist item", "未知的检查项"))
    if errors or station is None:
        raise ValidationFailed(errors)

    by_code = {a.item: a for a in answers}
    scored = rules.score(Checked(i.area.value, i.weight, by_code[i.code].passed) for i in cl.items)
    now = runtime.now()
    inspection = Inspection(
        id=uuid.uuid4(),
        agency=actor.agency,
        station_code=station.code,
        inspection_date=request.date,
        inspectors=inspectors,
        checklist_version=cl.version,
        score=scored.total,
        area_scores=scored.areas,
        passed=scored.passed,
        failed=scored.failed,
        deadline_days=request.deadline_days,
        note=request.note or None,
        created_by=actor.id,
        created_by_name=actor.display_name or actor.username,
        created_at=now,
    )
    session.add(inspection)
    calendar = runtime.reference(session).calendar
    due, estimated = rules.deadline(calendar, request.date, request.deadline_days)
    results: list[InspectionResult] = []
    for seq, item in enumerate(cl.items, start=1):
        answer = by_code[item.code]
        results.append(
            InspectionResult(
                agency=actor.agency,
                inspection_id=inspection.id,
                seq=seq,
                item_code=item.code,
                area=item.area.value,
                item_name_zh=item.name_zh,
                item_name_en=item.name_en,
                weight=item.weight,
                passed=answer.passed,
                note=(answer.note or "").strip() or None,
            )
        )
    session.add_all(results)
    session.flush()  # the results' ids, for their tasks
    tasks = 0
    for result in results:
        if result.passed:
            continue
        task = InspectionTask(
            id=uuid.uuid4(),
            agency=actor.agency,
            inspection_id=inspection.id,
            result_id=result.id,
            station_code=station.code,
            owner_name=station.master,
            item_code=result.item_code,
            area=result.area,
            item_name_zh=result.item_name_zh,
            item_name_en=result.item_name_en,
            problem=result.note or "",
            state=rules.INITIAL.value,
            deadline_date=due,
            deadline_estimated=estimated,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.add(_event(task, actor, seq=1, at=now, action="create", to_state=rules.INITIAL))
        tasks += 1
    for code, uploads in (photos or {}).items():
        for upload in uploads:
            _store_photo(
                session, actor, ITEM_OWNER, f"{inspection.id}:{code}", upload, f"photos.{code}"
            )
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="inspection.create",
        object_type="inspection",
        object_id=str(inspection.id),
        ip=actor.ip,
        detail={
            "station": station.code,
            "date": request.date.isoformat(),
            "score": scored.total,
            "failed": scored.failed,
            "tasks": tasks,
            "deadline": due.isoformat(),
        },
    )
    uow.commit()
    return inspection


def _event(
    task: InspectionTask,
    actor: Actor,
    *,
    seq: int,
    at: dt.datetime,
    action: str,
    to_state: TaskState,
    from_state: TaskState | None = None,
    note: str | None = None,
) -> InspectionTaskEvent:
    return InspectionTaskEvent(
        agency=task.agency,
        task_id=task.id,
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=to_state.value,
        note=note,
    )


# ---------------------------------------------------------------- reading one


def get_inspection(session: Session, *, actor: Actor, inspection_id: uuid.UUID) -> Inspection:
    """One inspection the actor may see."""
    require_reader(actor)
    found = session.scalar(
        select(Inspection).where(
            Inspection.agency == actor.agency, visible(actor), Inspection.id == inspection_id
        )
    )
    if found is None:
        raise NotFound(f"inspection {inspection_id} not found")
    return found


def results_of(session: Session, inspection: Inspection) -> list[InspectionResult]:
    """The checked items of an inspection, in checklist order."""
    return list(
        session.scalars(
            select(InspectionResult)
            .where(InspectionResult.inspection_id == inspection.id)
            .order_by(InspectionResult.seq)
        )
    )


def tasks_of(session: Session, inspection: Inspection) -> list[InspectionTask]:
    """The rectification tasks an inspection made, in checklist order."""
    return list(
        session.scalars(
            select(InspectionTask)
            .join(InspectionResult, InspectionResult.id == InspectionTask.result_id)
            .where(InspectionTask.inspection_id == inspection.id)
            .order_by(InspectionResult.seq)
        )
    )


def get_task(session: Session, *, actor: Actor, task_id: uuid.UUID) -> InspectionTask:
    """One task the actor may see."""
    require_reader(actor)
    task = session.scalar(
        select(InspectionTask).where(
            InspectionTask.agency == actor.agency,
            visible(actor, InspectionTask.station_code),
            InspectionTask.id == task_id,
        )
    )
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def task_events(session: Session, *, actor: Actor, task_id: uuid.UUID) -> list[InspectionTaskEvent]:
    """The steps of a task, oldest first."""
    get_task(session, actor=actor, task_id=task_id)
    return list(
        session.scalars(
            select(InspectionTaskEvent)
            .where(InspectionTaskEvent.task_id == task_id)
            .order_by(InspectionTaskEvent.seq)
        )
    )


def events_of(
    session: Session, tasks: Sequence[InspectionTask]
) -> dict[uuid.UUID, list[InspectionTaskEvent]]:
    """The steps of several tasks the caller already may see, by task."""
    out: dict[uuid.UUID, list[InspectionTaskEvent]] = {t.id: [] for t in tasks}
    if not tasks:
        return out
    for e in session.scalars(
        select(InspectionTaskEvent)
        .where(InspectionTaskEvent.task_id.in_([t.id for t in tasks]))
        .order_by(InspectionTaskEvent.task_id, InspectionTaskEvent.seq)
    ):
        out[e.task_id].append(e)
    return out


# ---------------------------------------------------------------- acting on a task


def act_on_task(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    actor: Actor,
    task_id: uuid.UUID,
    request: TaskActionIn,
    photo: Upload | None = None,
) -> InspectionTask:
    """Report a task fixed (station master), verify it or send it back (bureau); 409 if stale."""
    session = uow.session
    task = get_task(session, actor=actor, task_id=task_id)
    if task.version != request.version:
        raise Conflict(
            "the task changed since you read it",
            current_version=task.version,
            current_state=task.state,
        )
    before = TaskState(task.state)
    today = runtime.today()
    decision = rules.decide(
        before,
        request.action,
        role=actor.role.value,
        unit=actor.unit,
        station=task.station_code,
        note=request.note,
        today=today,
        reported_date=task.reported_date,
    )
    now = runtime.now()
    task.state = decision.state.value
    task.reported_date = decision.reported_date
    task.closed_date = decision.closed_date
    task.last_note = decision.note
    task.updated_at = now
    seq = (
        session.scalar(
            select(func.max(InspectionTaskEvent.seq)).where(InspectionTaskEvent.task_id == task.id)
        )
        or 0
    ) + 1
    session.add(
        _event(
            task,
            actor,
            seq=seq,
            at=now,
            action=request.action.value,
            from_state=before,
            to_state=decision.state,
            note=decision.note,
        )
    )
    if photo is not None and photo.data:
        _store_photo(session, actor, TASK_OWNER, str(task.id), photo, "file")
    timing = rules.task_light(
        runtime.reference(session).calendar,
        today=today,
        deadline_date=task.deadline_date,
        state=decision.state,
        reported_date=decision.reported_date,
    )
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"inspection.task.{request.action.value}",
        object_type="inspection_task",
        object_id=str(task.id),
        ip=actor.ip,
        detail={
            "station": task.station_code,
            "item": task.item_code,
            "from": before.value,
            "to": decision.state.value,
            "deadline": task.deadline_date.isoformat(),
            "light": timing.light.value,
        },
    )
    try:
        uow.commit()
    except (StaleDataError, IntegrityError):
        uow.rollback()
        with runtime.db.session() as fresh:
            current = fresh.get(InspectionTask, task_id)
        raise Conflict(
            "the task changed while you were changing it",
            current_version=current.version if current else None,
            current_state=current.state if current else None,
        ) from None
    return task


# ---------------------------------------------------------------- photos


def _item_owner(inspection: Inspection, item_code: str) -> str:
    return f"{inspection.id}:{item_code}"


def add_item_photo(
    uow: UnitOfWork, *, actor: Actor, inspection_id: uuid.UUID, item_code: str, upload: Upload
) -> Attachment:
    """Add a photo to a checked item (the bureau, after the inspection was saved)."""
    require_inspector(actor)
    inspection = get_inspection(uow.session, actor=actor, inspection_id=inspection_id)
    if item_code not in {r.item_code for r in results_of(uow.session, inspection)}:
        raise NotFound(f"item {item_code} not found")
    att = _store_photo(
        uow.session, actor, ITEM_OWNER, _item_owner(inspection, item_code), upload, "file"
    )
    uow.commit()
    return att


def add_task_photo(
    uow: UnitOfWork, *, actor: Actor, task_id: uuid.UUID, upload: Upload
) -> Attachment:
    """Add a photo of the fix to a task still in work (its station master, or the bureau)."""
    task = get_task(uow.session, actor=actor, task_id=task_id)
    station_master = rules.may(
        TaskAction.REPORT_FIXED, role=actor.role.value, unit=actor.unit, station=task.station_code
    )
    if not station_master and actor.role.value not in rules.INSPECTOR_ROLES:
        raise Forbidden("only the station master or the bureau adds photos to a task")
    if TaskState(task.state) in rules.TERMINAL:
        raise ValidationFailed.single(
            "file", "the task is closed", "整改任务已销号，不能再添加照片"
        )
    att = _store_photo(uow.session, actor, TASK_OWNER, str(task.id), upload, "file")
    uow.commit()
    return att


def item_photos(session: Session, inspection: Inspection) -> dict[str, list[AttachmentInfo]]:
    """Photos of each checked item of an inspection the caller may see, by item code."""
    prefix = f"{inspection.id}:"
    out: dict[str, list[AttachmentInfo]] = {}
    rows = session.execute(
        select(
            Attachment.owner_id,
            Attachment.id,
            Attachment.filename,
            Attachment.content_type,
            Attachment.size,
            Attachment.created_at,
        )
        .where(
            Attachment.agency == inspection.agency,
            Attachment.owner_type == ITEM_OWNER,
            Attachment.owner_id.startswith(prefix, autoescape=True),
        )
        .order_by(Attachment.created_at, Attachment.id)
    )
    for owner, ident, filename, content_type, size, created_at in rows:
        out.setdefault(owner[len(prefix) :], []).append(
            AttachmentInfo(ident, filename, content_type, size, created_at)
        )
    return out


def task_photos(session: Session, task: InspectionTask) -> list[AttachmentInfo]:
    """Photos of a task's fix."""
    return attachments.list_for(
        session, agency=task.agency, owner_type=TASK_OWNER, owner_id=str(task.id)
    )


def load_item_photo(
    session: Session, *, actor: Actor, inspection_id: uuid.UUID, item_code: str, photo_id: str
) -> Attachment:
    """One photo of a checked item, after the access check on its inspection."""
    inspection = get_inspection(session, actor=actor, inspection_id=inspection_id)
    return attachments.load(
        session,
        agency=actor.agency,
        attachment_id=photo_id,
        owner_type=ITEM_OWNER,
        owner_id=_item_owner(inspection, item_code),
    )


def load_task_photo(
    session: Session, *, actor: Actor, task_id: uuid.UUID, photo_id: str
) -> Attachment:
    """One photo of a task's fix, after the access check on the task."""
    task = get_task(session, actor=actor, task_id=task_id)
    return attachments.load(
        session,
        agency=actor.agency,
        attachment_id=photo_id,
        owner_type=TASK_OWNER,
        owner_id=str(task.id),
    )
