"""HTML pages of ratings: the task list, one task, the window's pad, and the case page's panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.cases import panels
from yibao.cases.lifecycle import State as CaseState
from yibao.cases.models import Case
from yibao.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from yibao.ratings import rules, service, tasks
from yibao.ratings.models import RectificationTask
from yibao.ratings.rules import FollowUpMethod
from yibao.ratings.tasks import TaskActionIn, TaskFilter
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

READERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR)
PAGE_SIZE = 25
SUMMARY_DAYS = 30
Q = Annotated[str | None, Query(max_length=20)]


def _zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def _label(pair: tuple[str, str]) -> str:
    return pair[0] if _zh() else pair[1]


def _labels() -> dict[str, Any]:
    return {
        "state_labels": {s.value: _label(p) for s, p in rules.STATE_LABELS.items()},
        "action_labels": {a.value: _label(p) for a, p in rules.ACTION_LABELS.items()}
        | {"open": _("Opened by a bad rating")},
        "level_labels": {k: _label(p) for k, p in rules.LEVELS.items()},
        "indicator_labels": {k: _label(p) for k, p in rules.INDICATORS.items()},
        "method_labels": {m.value: _label(p) for m, p in rules.FOLLOW_UP_LABELS.items()},
        "channel_labels": {c.value: _label(p) for c, p in rules.CHANNEL_LABELS.items()},
    }


def percent(rate: float | None) -> str:
    """A rate as the pages show it; the dash when there is nothing to divide."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


# ---------------------------------------------------------------- the case page's panel


@panels.register_notice
def _rectifications_waiting(
    session: Session, runtime: Runtime, actor: Actor
) -> list[panels.Notice]:
    """On a clerk's queue: the bad ratings they must rectify (a master: the station's)."""
    if actor.role not in (Role.CLERK, Role.STATION_MASTER) or not actor.unit:
        return []
    T = RectificationTask
    mine = T.owner_id == actor.id if actor.role == Role.CLERK else T.station_code == actor.unit
    rows = (
        session.execute(
            select(T.due_date).where(
                T.agency == actor.agency, mine, T.state == rules.TaskState.OPEN.value
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return []
    today = runtime.today()
    late = sum(1 for due in rows if due < today)
    text = _("%(n)d bad ratings to rectify") % {"n": len(rows)}
    if late:
        text += _(", %(n)d overdue") % {"n": late}
    return [panels.Notice(text, "/ratings", urgent=late > 0)]


@panels.register
def rating_panel(
    session: Session, runtime: Runtime, actor: Actor, case: Case
) -> tuple[str, dict[str, Any]] | None:
    """A completed case's rating, or the way to the window's pad when it has none yet."""
    if case.state != CaseState.COMPLETED.value:
        return None
    rating = service.rating_for_case(session, case=case)
    task = service.task_for_rating(session, rating=rating) if rating else None
    return (
        "ratings/panel.html",
        {
            "case_no": case.case_no,
            "rating": service.rating_dict(rating) if rating else None,
            "task": tasks.task_dict(task, today=runtime.today()) if task else None,
            "can_pad": rating is None and actor.role in service.RATING_ROLES,
            **_labels(),
        },
    )


# ---------------------------------------------------------------- the task list


@router.get("/ratings")
def ratings_page(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    scope: Q = None,
    state: Q = None,
    station: Q = None,
    overdue: Q = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """Rectification tasks: a clerk's own, a station's, or the agency's; the appeal queue."""
    require_roles(actor, *READERS)
    form = {
        "scope": scope or tasks.default_scope(actor),
        "state": state or "",
        "station": station or "",
        "overdue": overdue or "",
    }
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    next_cursor = None
    ref = runtime.reference()
    today = runtime.today()
    with runtime.db.session() as session:
        try:
            found, next_cursor = tasks.list_tasks(
                session,
                runtime=runtime,
                actor=actor,
                filters=TaskFilter(
                    scope=scope or None,
                    state=state or None,
                    station=station or None,
                    overdue={"yes": True, "no": False}.get(overdue or ""),
                ),
                limit=PAGE_SIZE,
                cursor=cursor or None,
            )
            rows = [tasks.task_dict(t, today=today) for t in found]
        except ValidationFailed as exc:
            errors = field_errors(exc)
        summary_station = None if actor.agency_wide else actor.unit
        summary = service.rates(
            session,
            agency=actor.agency,
            since=today - timedelta(days=SUMMARY_DAYS - 1),
            until=today,
            station=summary_station,
            clerk_id=actor.id if actor.role is Role.CLERK else None,
        )
        appeals = tasks.count_appealed(session, actor=actor) if actor.role is Role.SUPERVISOR else 0
    query = {k: v for k, v in form.items() if v}
    return render(
        request,
        "ratings/index.html",
        {
            **_labels(),
            "rows": rows,
            "form": form,
            "errors": errors,
            "next_url": "/ratings?" + urlencode({**query, "cursor": next_cursor})
            if next_cursor
            else None,
            "first_url": "/ratings?" + urlencode(query) if cursor else None,
            "stations": sorted(ref.unit_names.items()) if actor.agency_wide else [],
            "unit_names": ref.unit_names,
            "scopes": _scopes(actor),
            "summary": summary,
            "summary_days": SUMMARY_DAYS,
            "appeals": appeals,
            "is_supervisor": actor.role is Role.SUPERVISOR,
            "percent": percent,
        },
        status_code=422 if errors else 200,
    )


def _scopes(actor: Actor) -> list[tuple[str, str]]:
    if actor.agency_wide:
        return [("all", _("All tasks"))]
    if actor.role is Role.CLERK:
        return [("mine", _("My tasks"))]
    return [("station", _("My station's tasks")), ("mine", _("My tasks"))]


# ---------------------------------------------------------------- one task


def _task_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    task_id: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    message_kind: str = "error",
    errors: dict[str, str] | None = None,
    failed: str | None = None,
) -> HTMLResponse:
    today = runtime.today()
    with runtime.db.session() as session:
        try:
            task = tasks.get_task(session, actor=actor, task_id=task_id)
        except NotFound:
            return render(
                request,
                "error.html",
                {"title": _("Not found"), "message": _("No such task that you may see.")},
                status_code=404,
            )
        except Forbidden:
            raise PageForbidden from None
        rating = tasks.task_rating(session, task)
        view = tasks.task_dict(task, today=today)
        follow = [tasks.follow_up_dict(f) for f in tasks.follow_ups(session, task=task)]
        log = [tasks.event_dict(e) for e in tasks.task_events(session, task=task)]
        allowed = [a.value for a in tasks.allowed_for(actor, task)]
    return render(
        request,
        "ratings/task.html",
        {
            **_labels(),
            "t": view,
            "rating": service.rating_dict(rating),
            "follow_ups": follow,
            "log": log,
            "allowed": allowed,
            "methods": [m.value for m in FollowUpMethod],
            "station_name": runtime.reference().unit_names.get(task.station_code, ""),
            "now_local": runtime.now().astimezone(runtime.tz).strftime("%Y-%m-%dT%H:%M"),
            "message": message,
            "message_kind": message_kind,
            "errors": errors or {},
            "failed": failed,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/ratings/tasks/{task_id}")
def task_page(
    task_id: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One rectification task: the rating, follow-ups, the forms its state allows, the log."""
    require_roles(actor, *READERS)
    return _task_page(request, runtime, actor, task_id[:40])


def _followed_at(raw: str, runtime: Runtime) -> Any:
    from datetime import datetime

    text = raw.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.single(
            "followed_at", "a date and time", "请填写回访时间，如 2026-09-29 10:00"
        ) from None
    return moment.replace(tzinfo=runtime.tz) if moment.tzinfo is None else moment


@router.post("/ratings/tasks/{task_id}/act")
async def task_act(
    task_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Apply the action of one of the task page's forms."""
    require_roles(actor, *READERS)
    task_id = task_id[:40]
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    action = text("action")[:20]
    raw_version = text("version")
    try:
        body = TaskActionIn(
            action=action,
            version=int(raw_version) if raw_version.isdigit() and len(raw_version) < 9 else 1,
            note=text("note") or None,
            method=text("method") or None,
            outcome=text("outcome") or None,
            followed_at=_followed_at(text("followed_at"), runtime),
        )
        with runtime.db.uow() as uow:
            tasks.act(uow, runtime=runtime, actor=actor, task_id=task_id, request=body)
        return RedirectResponse(f"/ratings/tasks/{task_id}?done={action}", status_code=303)
    except Conflict:
        return _task_page(
            request,
            runtime,
            actor,
            task_id,
            status_code=409,
            message_kind="warn",
            message=_(
                "Someone else changed this task while you were looking at it. "
                "This is its current state; nothing of yours was saved."
            ),
        )
    except ValidationError as exc:
        failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        return _task_page(
            request,
            runtime,
            actor,
            task_id,
            status_code=422,
            message=error_message(failure),
            errors=field_errors(failure),
            failed=action,
        )
    except ValidationFailed as exc:
        errors = field_errors(exc)
        return _task_page(
            request,
            runtime,
            actor,
            task_id,
            status_code=422,
            message=errors.get("follow_up") or error_message(exc),
            errors=errors,
            failed=action,
        )
    except (Forbidden, NotFound):
        raise PageForbidden from None
    except DomainError as exc:  # an action the state does not allow
        return _task_page(
            request, runtime, actor, task_id, status_code=422, message=error_message(exc)
        )


# ---------------------------------------------------------------- the window's pad


def _pad(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    case_no: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    from yibao.cases.service import get_case

    with runtime.db.session() as session:
        try:
            if not rules.case_no_ok(case_no):
                raise NotFound("no such case")
            case = get_case(session, actor=actor, case_no=case_no)
        except NotFound:
            return render(
                request,
                "error.html",
                {"title": _("Not found"), "message": _("No such case that you may see.")},
                status_code=404,
            )
        except Forbidden:
            raise PageForbidden from None
        rating = service.rating_for_case(session, case=case)
        info = runtime.reference().services.get(case.service_code)
    return render(
        request,
        "ratings/pad.html",
        {
            **_labels(),
            "case_no": case.case_no,
            "completed": case.state == CaseState.COMPLETED.value,
            "service_name": (info.name_zh if _zh() else info.name_en)
            if info
            else case.service_code,
            "rating": service.rating_dict(rating) if rating else None,
            "levels": list(rules.LEVELS),
            "indicators": list(rules.INDICATORS),
            "comment_max": rules.COMMENT_MAX,
            "errors": errors or {},
            "values": values or {},
            "message": message,
            "thanks": request.query_params.get("done") == "1",
        },
        status_code=status_code,
    )


@router.get("/ratings/pad/{case_no}")
def pad_page(case_no: str, request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """The full-screen pad the clerk turns to the person at the window."""
    require_roles(actor, *service.RATING_ROLES)
    return _pad(request, runtime, actor, case_no[:20])


@router.post("/ratings/pad/{case_no}")
async def pad_submit(
    case_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Record the pad's answers (一事一评: a second rating is refused)."""
    require_roles(actor, *service.RATING_ROLES)
    case_no = case_no[:20]
    form = await request.form()
    values = {
        k: (v if isinstance(v := form.get(k), str) else "") for k in (*rules.INDICATORS, "comment")
    }
    try:
        with runtime.db.uow() as uow:
            service.rate_at_window(
                uow, runtime=runtime, actor=actor, case_no=case_no, raw=dict(values)
            )
    except Conflict:
        return _pad(
            request,
            runtime,
            actor,
            case_no,
            status_code=409,
            message=_("This case has already been rated; each case is rated once."),
        )
    except ValidationFailed as exc:
        errors = field_errors(exc)
        return _pad(
            request,
            runtime,
            actor,
            case_no,
            status_code=422,
            errors=errors,
            values=values,
            message=errors.pop("case", None) or error_message(exc),
        )
    except (Forbidden, NotFound):
        raise PageForbidden from None
    return RedirectResponse(f"/ratings/pad/{case_no}?done=1", status_code=303)
