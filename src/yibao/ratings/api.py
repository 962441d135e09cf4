"""JSON adapters of ratings under /api/v1/ratings (and the citizen's public rating endpoint)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from yibao.ratings import service, tasks
from yibao.ratings.public import public_router
from yibao.ratings.service import StaffRatingIn
from yibao.ratings.tasks import TaskActionIn, TaskFilter
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1/ratings", tags=["ratings"])
extra_routers = [public_router]


def _task(runtime: Any, session: Any, task: Any, *, full: bool = False) -> dict[str, Any]:
    out = tasks.task_dict(task, today=runtime.today())
    if full:
        out["rating"] = service.rating_dict(tasks.task_rating(session, task))
        out["follow_up_records"] = [
            tasks.follow_up_dict(f) for f in tasks.follow_ups(session, task=task)
        ]
        out["events"] = [tasks.event_dict(e) for e in tasks.task_events(session, task=task)]
    return out


@router.post("", status_code=201)
def rate_at_window(
    body: StaffRatingIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Record the rating a person gave on the window's pad (staff who may see the case).

    409 when the case was already rated (一事一评); 422 when it is not completed. A bad rating
    (overall 2 or 1) opens a rectification task at once.
    """
    rating = service.rate_at_window(
        uow,
        runtime=runtime,
        actor=actor,
        case_no=body.case_no,
        raw=body.model_dump(exclude={"case_no"}),
    )
    response.headers["Location"] = f"/api/v1/ratings/cases/{rating.case_no}"
    out = service.rating_dict(rating)
    task = service.task_for_rating(uow.session, rating=rating)
    out["task_id"] = str(task.id) if task else None
    return out


@router.get("/cases/{case_no}")
def rating_of_case(case_no: str, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
    """The rating of a case the caller may see (404 when not rated)."""
    rating = service.get_rating(session, actor=actor, case_no=case_no[:40])
    out = service.rating_dict(rating)
    task = service.task_for_rating(session, rating=rating)
    out["task_id"] = str(task.id) if task else None
    return out


@router.get("/tasks")
def list_tasks(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    scope: Annotated[str | None, Query(max_length=10, description="mine | station | all")] = None,
    state: Annotated[
        str | None, Query(max_length=12, description="open | appealed | rectified | closed")
    ] = None,
    station: Annotated[str | None, Query(max_length=16)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=tasks.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Rectification tasks the caller may see, most urgent first (clerks: their own by
    default; station masters: their station's; bureau and supervisors: all)."""
    rows, next_cursor = tasks.list_tasks(
        session,
        runtime=runtime,
        actor=actor,
        filters=TaskFilter(scope=scope, state=state, station=station, overdue=overdue),
        limit=limit,
        cursor=cursor,
    )
    return {"items": [_task(runtime, session, t) for t in rows], "next_cursor": next_cursor}


@router.get("/tasks/{task_id}")
def get_task(
    task_id: str, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One task, with its rating, follow-ups and log."""
    task = tasks.get_task(session, actor=actor, task_id=task_id)
    out = _task(runtime, session, task, full=True)
    out["allowed_actions"] = [a.value for a in tasks.allowed_for(actor, task)]
    return out


@router.post("/tasks/{task_id}/actions")
def act(
    task_id: str, body: TaskActionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Act on a task at the version seen: ``follow_up`` (method, outcome, followed_at?),
    ``rectify`` (note; needs a follow-up first), ``close`` (accept), ``appeal`` (note),
    ``uphold`` / ``dismiss`` (supervisors decide an appeal; note). 409 on a stale version."""
    task = tasks.act(uow, runtime=runtime, actor=actor, task_id=task_id, request=body)
    out = _task(runtime, uow.session, task, full=True)
    out["allowed_actions"] = [a.value for a in tasks.allowed_for(actor, task)]
    return out
