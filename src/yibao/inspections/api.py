"""JSON adapters of inspections under /api/v1/inspections."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Response, UploadFile
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.attachments.web import file_response
from yibao.errors import ValidationFailed
from yibao.inspections import present, queries, service
from yibao.inspections.models import Inspection, InspectionTask
from yibao.inspections.service import InspectionIn, TaskActionIn, Upload
from yibao.runtime import Runtime
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])

API = "/api/v1/inspections"
Limit = Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=400)]
Station = Annotated[str | None, Query(max_length=16)]
ItemCode = Annotated[str, Path(max_length=32)]
PhotoId = Annotated[str, Path(max_length=40)]
FileField = Annotated[UploadFile | None, File(description="a JPEG or PNG photo")]


def _task(
    runtime: Runtime, session: Session, actor: Actor, task: InspectionTask, *, full: bool = False
) -> dict[str, Any]:
    ref = runtime.reference()
    events = photos = None
    if full:
        events = service.task_events(session, actor=actor, task_id=task.id)
        photos = [
            present.photo_dict(p, f"{API}/tasks/{task.id}/attachments/{p.id}")
            for p in service.task_photos(session, task)
        ]
    return present.task_dict(
        task,
        ref,
        calendar=ref.calendar,
        today=runtime.today(),
        actor=actor,
        events=events,
        photos=photos,
    )


def _inspection(
    runtime: Runtime, session: Session, actor: Actor, inspection: Inspection
) -> dict[str, Any]:
    ref = runtime.reference()
    photos = service.item_photos(session, inspection)
    out = present.inspection_dict(inspection, ref)
    out["results"] = [
        present.result_dict(
            r,
            [
                present.photo_dict(
                    p, f"{API}/{inspection.id}/items/{r.item_code}/attachments/{p.id}"
                )
                for p in photos.get(r.item_code, [])
            ],
        )
        for r in service.results_of(session, inspection)
    ]
    out["tasks"] = [
        _task(runtime, session, actor, t) for t in service.tasks_of(session, inspection)
    ]
    return out


async def _upload(file: UploadFile | None) -> Upload:
    if file is None:
        raise ValidationFailed.single("file", "choose a photo", "请选择照片")
    return Upload(file.filename, file.content_type, await file.read())


@router.get("/checklist")
def get_checklist(actor: ActorDep) -> dict[str, Any]:
    """The four-in-place checklist: areas, items and weights."""
    service.require_reader(actor)
    return present.checklist_dict(service.checklist())


@router.post("", status_code=201)
def create(
    body: InspectionIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Record an inspection (bureau officers, supervisors); failed items become tasks."""
    inspection = service.create_inspection(uow, runtime=runtime, actor=actor, request=body)
    response.headers["Location"] = f"{API}/{inspection.id}"
    return _inspection(runtime, uow.session, actor, inspection)


@router.get("")
def list_inspections(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    station: Station = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Inspections the caller may see, newest first; ``next_cursor`` pages on."""
    rows, next_cursor = queries.list_inspections(
        session, runtime=runtime, actor=actor, station=station, limit=limit, cursor=cursor
    )
    ref = runtime.reference()
    return {"items": [present.inspection_dict(i, ref) for i in rows], "next_cursor": next_cursor}


@router.get("/stations")
def list_standings(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=10)] = None,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """Each station the caller may see: latest score, open and overdue items, last inspected."""
    rows, total = queries.standings(
        session, runtime=runtime, actor=actor, kind=kind, limit=limit, offset=offset
    )
    return {
        "items": [
            {
                "code": s.code,
                "name": s.name,
                "kind": s.kind,
                "master": s.master,
                "last_inspected": s.last_date.isoformat() if s.last_date else None,
                "last_score": s.last_score,
                "last_inspection_id": str(s.last_id) if s.last_id else None,
                "score_light": s.light,
                "open_tasks": s.open_tasks,
                "overdue_tasks": s.overdue,
            }
            for s in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/stations/{code}/measures")
def station_measures(
    code: Annotated[str, Path(max_length=16)],
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
) -> dict[str, Any]:
    """A station's intake, on-time rate and ratings: the last 30 days and this year."""
    out: dict[str, Any] = {"station_code": code.upper(), "periods": []}
    for p in queries.station_measures(session, runtime=runtime, actor=actor, station=code):
        r = p.ratings
        out["periods"].append(
            {
                "period": {
                    "from": p.period.date_from.isoformat(),
                    "to": p.period.date_to.isoformat(),
                },
                "intake": p.cases.intake,
                "completed": p.cases.completed,
                "on_time": p.cases.on_time,
                "on_time_rate": p.cases.on_time_rate,
                "rating_participation": r.participation,
                "satisfaction": r.satisfaction,
                "rectified_on_time_rate": r.rectified_on_time_rate,
            }
        )
    return out


@router.get("/tasks")
def list_tasks(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    station: Station = None,
    state: Annotated[
        str | None, Query(max_length=12, description="open | reported | verified | unverified")
    ] = None,
    overdue: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Rectification tasks the caller may see, nearest deadline first."""
    rows, next_cursor = queries.list_tasks(
        session,
        runtime=runtime,
        actor=actor,
        station=station,
        state=state,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )
    return {
        "items": [_task(runtime, session, actor, t) for t in rows],
        "next_cursor": next_cursor,
    }


@router.get("/tasks/{task_id}")
def get_task(
    task_id: uuid.UUID, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One task with its steps and photos."""
    task = service.get_task(session, actor=actor, task_id=task_id)
    return _task(runtime, session, actor, task, full=True)


@router.post("/tasks/{task_id}/actions")
def act(
    task_id: uuid.UUID, body: TaskActionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """``report_fixed`` (station master, note), ``verify`` or ``send_back`` (bureau, note);
    409 on a stale version, 422 on an action the lifecycle does not allow."""
    task = service.act_on_task(uow, runtime=runtime, actor=actor, task_id=task_id, request=body)
    return _task(runtime, uow.session, actor, task, full=True)


@router.post("/tasks/{task_id}/attachments", status_code=201)
async def add_task_photo(
    task_id: uuid.UUID, actor: ActorDep, uow: UowDep, file: FileField = None
) -> dict[str, Any]:
    """Add a photo of the fix (multipart field ``file``: JPEG or PNG)."""
    att = service.add_task_photo(uow, actor=actor, task_id=task_id, upload=await _upload(file))
    return {
        "id": str(att.id),
        "filename": att.filename,
        "content_type": att.content_type,
        "size": att.size,
        "url": f"{API}/tasks/{task_id}/attachments/{att.id}",
    }


@router.get("/tasks/{task_id}/attachments/{photo_id}")
def task_photo(
    task_id: uuid.UUID, photo_id: PhotoId, actor: ActorDep, session: SessionDep
) -> Response:
    """One photo of a task's fix."""
    return file_response(
        service.load_task_photo(session, actor=actor, task_id=task_id, photo_id=photo_id)
    )


@router.get("/{inspection_id}")
def get_inspection(
    inspection_id: uuid.UUID, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One inspection with every checked item, its photos and the tasks it made."""
    inspection = service.get_inspection(session, actor=actor, inspection_id=inspection_id)
    return _inspection(runtime, session, actor, inspection)


@router.post("/{inspection_id}/items/{item}/attachments", status_code=201)
async def add_item_photo(
    inspection_id: uuid.UUID, item: ItemCode, actor: ActorDep, uow: UowDep, file: FileField = None
) -> dict[str, Any]:
    """Add a photo to a checked item (bureau; multipart field ``file``: JPEG or PNG)."""
    att = service.add_item_photo(
        uow, actor=actor, inspection_id=inspection_id, item_code=item, upload=await _upload(file)
    )
    return {
        "id": str(att.id),
        "filename": att.filename,
        "content_type": att.content_type,
        "size": att.size,
        "url": f"{API}/{inspection_id}/items/{item}/attachments/{att.id}",
    }


@router.get("/{inspection_id}/items/{item}/attachments/{photo_id}")
def item_photo(
    inspection_id: uuid.UUID,
    item: ItemCode,
    photo_id: PhotoId,
    actor: ActorDep,
    session: SessionDep,
) -> Response:
    """One photo of a checked item."""
    return file_response(
        service.load_item_photo(
            session, actor=actor, inspection_id=inspection_id, item_code=item, photo_id=photo_id
        )
    )
