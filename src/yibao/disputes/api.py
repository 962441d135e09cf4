"""JSON adapters of disputes under /api/v1/disputes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from yibao.disputes import service
from yibao.disputes.service import DisputeActionIn, DisputeFilter, DisputeIn, SessionIn
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])


@router.get("")
def list_disputes(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    station: Annotated[str | None, Query(max_length=16)] = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Disputes the caller may see, newest first, with a cursor for the next page."""
    rows, next_cursor = service.list_disputes(
        session,
        runtime=runtime,
        actor=actor,
        filters=DisputeFilter(
            state=state or None, station=station or None, overdue=overdue, q=q or None
        ),
        limit=limit,
        cursor=cursor or None,
    )
    ref, today = runtime.reference(), runtime.today()
    return {
        "items": [service.dispute_dict(d, ref, today, actor) for d in rows],
        "next_cursor": next_cursor,
    }


@router.post("", status_code=201)
def open_dispute(
    body: DisputeIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Open a dispute with its three parties' representatives; due in working days."""
    dispute = service.open_dispute(uow, runtime=runtime, actor=actor, request=body)
    response.headers["Location"] = f"/api/v1/disputes/{dispute.id}"
    view = service.get_dispute(uow.session, actor=actor, dispute_id=str(dispute.id))
    return service.full_dict(view, runtime.reference(), runtime.today(), actor)


@router.get("/{dispute_id}")
def get_dispute(
    dispute_id: str, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One dispute with its representatives (phones masked), sessions and timeline."""
    view = service.get_dispute(session, actor=actor, dispute_id=dispute_id)
    return service.full_dict(view, runtime.reference(), runtime.today(), actor)


@router.post("/{dispute_id}/actions")
def act(
    dispute_id: str, body: DisputeActionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """mediate, agree (terms), escalate (escalated_to) or withdraw (withdrawn_by); 409 if stale."""
    dispute = service.act(uow, runtime=runtime, actor=actor, dispute_id=dispute_id, request=body)
    return service.dispute_dict(dispute, runtime.reference(), runtime.today(), actor)


@router.post("/{dispute_id}/sessions", status_code=201)
def record_session(
    dispute_id: str, body: SessionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Record a mediation session: statements per party, apart from the mediator's notes."""
    service.record_session(uow, runtime=runtime, actor=actor, dispute_id=dispute_id, request=body)
    view = service.get_dispute(uow.session, actor=actor, dispute_id=dispute_id)
    return service.full_dict(view, runtime.reference(), runtime.today(), actor)
