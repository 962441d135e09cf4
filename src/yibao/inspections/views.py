"""HTML pages of inspections: the bureau's list of stations, a station's history, the form, one
inspection, and the station master's page of open items and measures."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from yibao.accounts.rules import Actor, Role
from yibao.attachments.web import file_response
from yibao.cases import panels
from yibao.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from yibao.inspections import present, queries, rules, service
from yibao.inspections.models import InspectionTask
from yibao.inspections.rules import TaskAction
from yibao.inspections.service import InspectionIn, TaskActionIn, Upload
from yibao.runtime import Runtime
from yibao.web import i18n
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    CsrfDep,
    PageActor,
    PageForbidden,
    error_message,
    field_errors,
    pydantic_errors,
    render,
    require_roles,
)

router = APIRouter(include_in_schema=False)

BUREAU = (Role.BUREAU_OFFICER, Role.SUPERVISOR)
STATION = (Role.STATION_MASTER, Role.CLERK)
PAGE_SIZE = 20
TASK_STATE_LABELS = {
    "open": "Awaiting rectification",
    "reported": "Reported fixed",
    "verified": "Verified and closed",
}
TASK_ACTION_LABELS = {
    "create": "Item failed; task opened",
    "report_fixed": "Reported fixed",
    "verify": "Fix verified",
    "send_back": "Sent back",
}
KIND_LABELS = {
    "fixed": "Fixed station",
    "town": "Town or street station",
    "village": "Village station",
    "mobile": "Mobile station",
}
PERIOD_LABELS = ("Last 30 days", "This year")
Page = Annotated[int, Query(ge=1, le=10_000)]


def _zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def _not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": _("Not found"), "message": _("No such inspection that you may see.")},
        status_code=404,
    )


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _common() -> dict[str, Any]:
    return {
        "task_state_labels": TASK_STATE_LABELS,
        "task_action_labels": TASK_ACTION_LABELS,
        "kind_labels": KIND_LABELS,
        "zh": _zh(),
    }


def _task_rows(
    runtime: Runtime, session: Any, actor: Actor, tasks: list[Any], *, photos: bool = True
) -> list[dict[str, Any]]:
    ref = runtime.reference()
    events = service.events_of(session, tasks)
    out = []
    for t in tasks:
        pics = None
        if photos:
            pics = [
                present.photo_dict(p, f"/inspections/tasks/{t.id}/photos/{p.id}")
                for p in service.task_photos(session, t)
            ]
        out.append(
            present.task_dict(
                t,
                ref,
                calendar=ref.calendar,
                today=runtime.today(),
                actor=actor,
                events=events.get(t.id, []),
                photos=pics,
            )
        )
    return out


# ---------------------------------------------------------------- the bureau's list


@panels.register_notice
def _four_in_place_waiting(session: Session, runtime: Runtime, actor: Actor) -> list[panels.Notice]:
    """On a station master's queue: the station's failed four-in-place items still to fix."""
    if actor.role != Role.STATION_MASTER or not actor.unit:
        return []
    T = InspectionTask
    rows = (
        session.execute(
            select(T.deadline_date).where(
                T.agency == actor.agency,
                T.station_code == actor.unit,
                T.state == rules.TaskState.OPEN.value,
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return []
    late = sum(1 for due in rows if due < runtime.today())
    text = _("%(n)d four-in-place items to fix") % {"n": len(rows)}
    if late:
        text += _(", %(n)d past the deadline") % {"n": late}
    return [panels.Notice(text, "/inspections/station", urgent=late > 0)]


@router.get("/inspections")
def index(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    page: Page = 1,
    kind: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """Every station with its latest score, open items and last inspection (the bureau)."""
    if actor.role in STATION:
        return RedirectResponse("/inspections/station", status_code=303)
    require_roles(actor, *BUREAU)
    errors: dict[str, str] = {}
    rows: list[Any] = []
    total = 0
    with runtime.db.session() as session:
        try:
            rows, total = queries.standings(
                session,
                runtime=runtime,
                actor=actor,
                kind=kind or None,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        except ValidationFailed as exc:
            errors = field_errors(exc)
        overdue, _next = queries.list_tasks(
            session, runtime=runtime, actor=actor, overdue=True, limit=50
        )
        overdue_rows = _task_rows(runtime, session, actor, overdue, photos=False)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "inspections/index.html",
        {
            **_common(),
            "rows": rows,
            "page": page,
            "pages": pages,
            "total": total,
            "kind": kind or "",
            "kinds": service.INSPECTED_KINDS,
            "errors": errors,
            "overdue": overdue_rows,
            "can_inspect": True,
        },
        status_code=422 if errors else 200,
    )


# ---------------------------------------------------------------- the station master's page


def _station_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    *,
    status_code: int = 200,
    task_errors: dict[str, dict[str, str]] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    code = actor.unit or ""
    with runtime.db.session() as session:
        try:
            station = service.station_of(session, actor=actor, code=code)
        except (NotFound, Forbidden):
            raise PageForbidden from None
        tasks, _next = queries.list_tasks(
            session,
            runtime=runtime,
            actor=actor,
            station=code,
            state="unverified",
            limit=queries.MAX_LIMIT,
        )
        task_rows = _task_rows(runtime, session, actor, tasks)
        measures = queries.station_measures(session, runtime=runtime, actor=actor, station=code)
        latest, count = queries.history(session, actor=actor, station=code, limit=1)
    return render(
        request,
        "inspections/station.html",
        {
            **_common(),
            "station": station,
            "tasks": task_rows,
            "measures": list(zip(PERIOD_LABELS, measures, strict=True)),
            "latest": present.inspection_dict(latest[0], runtime.reference()) if latest else None,
            "inspections": count,
            "task_errors": task_errors or {},
            "message": message,
            "done": request.query_params.get("done"),
            "back": "station",
        },
        status_code=status_code,
    )


@router.get("/inspections/station")
def station_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> Response:
    """The station's open items with their deadlines, and its measures (station staff)."""
    if actor.role in BUREAU:
        return RedirectResponse("/inspections", status_code=303)
    require_roles(actor, *STATION)
    return _station_page(request, runtime, actor)


# ---------------------------------------------------------------- a station's history


@router.get("/inspections/stations/{code}")
def history_page(
    code: str, request: Request, runtime: RuntimeDep, actor: PageActor, page: Page = 1
) -> HTMLResponse:
    """A station's inspections over time: the scores as a line, then each inspection."""
    require_roles(actor, *BUREAU, *STATION)
    ref = runtime.reference()
    with runtime.db.session() as session:
        try:
            station = service.station_of(session, actor=actor, code=code[:16])
        except NotFound:
            return _not_found(request)
        rows, total = queries.history(
            session,
            actor=actor,
            station=station.code,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        series = queries.score_series(session, actor=actor, station=station.code)
        tasks, _next = queries.list_tasks(
            session,
            runtime=runtime,
            actor=actor,
            station=station.code,
            state="unverified",
            limit=queries.MAX_LIMIT,
        )
        task_rows = _task_rows(runtime, session, actor, tasks, photos=False)
    return render(
        request,
        "inspections/history.html",
        {
            **_common(),
            "station": station,
            "rows": [present.inspection_dict(i, ref) for i in rows],
            "chart": {
                "dates": [d.isoformat() for d, _s in series],
                "scores": [s for _d, s in series],
            },
            "tasks": task_rows,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "total": total,
            "can_inspect": actor.role in BUREAU,
            "areas": [(a.code.value, a.name_zh, a.name_en) for a in service.checklist().areas],
        },
    )


# ---------------------------------------------------------------- a new inspection


def _new_context(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    with runtime.db.session() as session:
        stations, _total = queries.standings(
            session, runtime=runtime, actor=actor, limit=queries.MAX_LIMIT
        )
    return {
        **_common(),
        "checklist": service.checklist(),
        "stations": stations,
        "max_date": runtime.today().isoformat(),
    }


@router.get("/inspections/new")
def new_page(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    station: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """The checklist to fill in for one station (bureau officers, supervisors)."""
    require_roles(actor, *BUREAU)
    ctx = _new_context(runtime, actor)
    ctx.update(
        values={
            "station": (station or "").upper(),
            "date": runtime.today().isoformat(),
            "inspectors": actor.display_name or actor.username,
            "deadline_days": str(service.checklist().deadline_days),
        },
        results={},
        errors={},
        message=None,
    )
    return render(request, "inspections/new.html", ctx)


async def _uploads(form: FormData, name: str) -> list[Upload]:
    out = []
    for value in form.getlist(name):
        if isinstance(value, UploadFile):
            data = await value.read()
            if data:
                out.append(Upload(value.filename, value.content_type, data))
    return out


@router.post("/inspections/new/attachments")
async def create(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Save the inspection with its photos (a multipart form: photos may be several MiB)."""
    require_roles(actor, *BUREAU)
    form = await request.form()
    cl = service.checklist()

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    values = {k: text(k) for k in ("station", "date", "inspectors", "note", "deadline_days")}
    results = {
        i.code: {"result": text(f"r_{i.code}"), "note": text(f"n_{i.code}")} for i in cl.items
    }
    errors: dict[str, str] = {}
    message = None
    unanswered = [code for code, r in results.items() if r["result"] not in ("pass", "fail")]
    for code in unanswered:
        errors[f"item.{code}"] = _("Choose passed or failed.")
    try:
        photos = {i.code: await _uploads(form, f"p_{i.code}") for i in cl.items}
        names = [n for n in values["inspectors"].replace("，", ",").replace("、", ",").split(",")]
        body = InspectionIn.model_validate(
            {
                "station_code": values["station"],
                "date": values["date"] or None,
                "inspectors": [n.strip() for n in names if n.strip()],
                "results": [
                    {"item": code, "passed": r["result"] == "pass", "note": r["note"] or None}
                    for code, r in results.items()
                    if code not in unanswered
                ],
                "note": values["note"] or None,
                "deadline_days": values["deadline_days"] or cl.deadline_days,
            }
        )
        if unanswered:  # still show every other problem of the answers at once
            found = rules.check_answers(
                cl, [rules.Answer(a.item, a.passed, a.note) for a in body.results]
            )
            raise ValidationFailed([e for e in found if e.field != "results"] or found)
        with runtime.db.uow() as uow:
            made = service.create_inspection(
                uow,
                runtime=runtime,
                actor=actor,
                request=body,
                photos={k: v for k, v in photos.items() if v},
            )
        return RedirectResponse(f"/inspections/{made.id}?done=created", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errors.update(field_errors(failure))
    except ValidationFailed as exc:
        codes = [code for code in results if code not in unanswered]
        for field, msg in field_errors(exc).items():
            if field.startswith("results["):
                index = int(field[8 : field.index("]")])
                if index < len(codes):
                    errors.setdefault(f"item.{codes[index]}", msg)
                    continue
            if field.startswith("photos."):
                errors.setdefault(f"item.{field[7:]}", msg)
                continue
            errors.setdefault(field, msg)
    message = error_message(ValidationFailed([]))
    if "station_code" in errors:
        errors.setdefault("station", errors.pop("station_code"))
    if "results" in errors and unanswered:
        errors.pop("results")
    ctx = _new_context(runtime, actor)
    ctx.update(values=values, results=results, errors=errors, message=message)
    return render(request, "inspections/new.html", ctx, status_code=422)


# ---------------------------------------------------------------- tasks


async def _act(
    request: Request, runtime: Runtime, actor: Actor, task_id: str, *, with_photo: bool
) -> Response:
    form = await request.form()
    back = str(form.get("back") or "inspection")
    key = _uuid(task_id)
    if key is None:
        return _not_found(request)
    raw_version = str(form.get("version") or "")
    raw_action = str(form.get("action") or "")
    photos = await _uploads(form, "file") if with_photo else []
    inspection_id: uuid.UUID | None = None
    try:
        with runtime.db.session() as session:
            inspection_id = service.get_task(session, actor=actor, task_id=key).inspection_id
        if raw_action not in {a.value for a in TaskAction}:
            raise ValidationFailed.single("action", "unknown action", "未知的操作")
        body = TaskActionIn(
            action=TaskAction(raw_action),
            version=int(raw_version) if raw_version.isdigit() else 0,
            note=str(form.get("note") or "") or None,
        )
        with runtime.db.uow() as uow:
            service.act_on_task(
                uow,
                runtime=runtime,
                actor=actor,
                task_id=key,
                request=body,
                photo=photos[0] if photos else None,
            )
        target = "/inspections/station" if back == "station" else f"/inspections/{inspection_id}"
        return RedirectResponse(f"{target}?done={raw_action}#task-{key}", status_code=303)
    except NotFound:
        return _not_found(request)
    except Forbidden:
        raise PageForbidden from None
    except Conflict:
        errs = {"form": _("Someone else changed this task meanwhile; this is its current state.")}
        status = 409
    except ValidationError as exc:
        failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errs = {k: v for k, v in field_errors(failure).items()} or {"form": error_message(failure)}
        status = 422
    except DomainError as exc:
        errs = field_errors(exc) or {"form": exc.detail if not _zh() else _(exc.title)}
        status = 422
    if not set(errs) & {"note", "file", "form"}:  # e.g. a tampered version or action
        errs["form"] = next(iter(errs.values()), _("Please correct the marked fields."))
    task_errors = {str(key): errs}
    if back == "station" and actor.role in STATION:
        return _station_page(request, runtime, actor, status_code=status, task_errors=task_errors)
    assert inspection_id is not None
    return _inspection_page(
        request, runtime, actor, inspection_id, status_code=status, task_errors=task_errors
    )


@router.post("/inspections/tasks/{task_id}/act")
async def act(
    task_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Verify a fix or send it back (the bureau), or report it fixed without a photo."""
    require_roles(actor, *BUREAU, Role.STATION_MASTER)
    return await _act(request, runtime, actor, task_id, with_photo=False)


@router.post("/inspections/tasks/{task_id}/attachments")
async def report(
    task_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Report a task fixed with a note and, optionally, a photo (multipart)."""
    require_roles(actor, *BUREAU, Role.STATION_MASTER)
    return await _act(request, runtime, actor, task_id, with_photo=True)


@router.get("/inspections/tasks/{task_id}/photos/{photo_id}")
def task_photo(
    task_id: str, photo_id: str, request: Request, actor: PageActor, runtime: RuntimeDep
) -> Response:
    """One photo of a fix, after the access check on its task."""
    require_roles(actor, *BUREAU, *STATION)
    key = _uuid(task_id)
    if key is None:
        return _not_found(request)
    with runtime.db.session() as session:
        try:
            att = service.load_task_photo(session, actor=actor, task_id=key, photo_id=photo_id[:40])
        except NotFound:
            return _not_found(request)
    return file_response(att)


# ---------------------------------------------------------------- one inspection


def _inspection_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    inspection_id: uuid.UUID,
    *,
    status_code: int = 200,
    task_errors: dict[str, dict[str, str]] | None = None,
    photo_error: tuple[str, str] | None = None,
) -> HTMLResponse:
    ref = runtime.reference()
    with runtime.db.session() as session:
        try:
            inspection = service.get_inspection(session, actor=actor, inspection_id=inspection_id)
        except NotFound:
            return _not_found(request)
        except Forbidden:
            raise PageForbidden from None
        results = service.results_of(session, inspection)
        photos = service.item_photos(session, inspection)
        tasks = _task_rows(runtime, session, actor, service.tasks_of(session, inspection))
    head = present.inspection_dict(inspection, ref)
    return render(
        request,
        "inspections/inspection.html",
        {
            **_common(),
            "i": head,
            "areas": present.area_rows(service.checklist(), results, inspection.area_scores or {}),
            "photos": {
                code: [
                    present.photo_dict(
                        p, f"/inspections/{inspection.id}/items/{code}/photos/{p.id}"
                    )
                    for p in found
                ]
                for code, found in photos.items()
            },
            "tasks": tasks,
            "task_errors": task_errors or {},
            "photo_error": photo_error,
            "can_add_photos": actor.role in BUREAU,
            "done": request.query_params.get("done"),
            "back": "inspection",
        },
        status_code=status_code,
    )


@router.get("/inspections/{inspection_id}")
def inspection_page(
    inspection_id: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One inspection: each area's items, notes and photos, the score, the tasks it made."""
    require_roles(actor, *BUREAU, *STATION)
    key = _uuid(inspection_id)
    if key is None:
        return _not_found(request)
    return _inspection_page(request, runtime, actor, key)


@router.post("/inspections/{inspection_id}/attachments")
async def add_photo(
    inspection_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Add photos to a checked item after the inspection was saved (the bureau)."""
    require_roles(actor, *BUREAU)
    key = _uuid(inspection_id)
    if key is None:
        return _not_found(request)
    form = await request.form()
    item = str(form.get("item") or "")[:32]
    uploads = await _uploads(form, "file")
    try:
        if not uploads:
            raise ValidationFailed.single("file", "choose a photo", "请选择照片")
        with runtime.db.uow() as uow:
            for upload in uploads:
                service.add_item_photo(
                    uow, actor=actor, inspection_id=key, item_code=item, upload=upload
                )
    except NotFound:
        return _not_found(request)
    except ValidationFailed as exc:
        msg = next(iter(field_errors(exc).values()), error_message(exc))
        return _inspection_page(
            request, runtime, actor, key, status_code=422, photo_error=(item, msg)
        )
    return RedirectResponse(f"/inspections/{key}?done=photo#item-{item}", status_code=303)


@router.get("/inspections/{inspection_id}/items/{item}/photos/{photo_id}")
def item_photo(
    inspection_id: str,
    item: str,
    photo_id: str,
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
) -> Response:
    """One photo of a checked item, after the access check on its inspection."""
    require_roles(actor, *BUREAU, *STATION)
    key = _uuid(inspection_id)
    if key is None:
        return _not_found(request)
    with runtime.db.session() as session:
        try:
            att = service.load_item_photo(
                session, actor=actor, inspection_id=key, item_code=item[:32], photo_id=photo_id[:40]
            )
        except NotFound:
            return _not_found(request)
    return file_response(att)
