"""HTTP adapter of cases: JSON endpoints over the case use cases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from yibao.cases import present, queries, service
from yibao.cases.schemas import ActionIn, IntakeIn
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep
from yibao.web.params import IsoDate

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("", status_code=201)
def create_case(
    body: IntakeIn,
    response: Response,
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """Take a new case; a repeat with the same ``Idempotency-Key`` and body returns the first."""
    result = service.intake(
        uow, runtime=runtime, actor=actor, request=body, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/api/v1/cases/{result.case.case_no}"
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"
    return present.case_dict(result.case, runtime.reference(), runtime.today(), actor)


@router.get("")
def list_cases(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    state: Annotated[str | None, Query(description="one state, or several comma-separated")] = None,
    station: Annotated[str | None, Query(description="intake station or current unit")] = None,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    overdue: bool | None = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    id_tail: Annotated[str | None, Query(max_length=4)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """Cases the caller may see, newest first, one page at a time (keyset cursor)."""
    filters = queries.CaseFilter(
        states=tuple(s.strip() for s in state.split(",") if s.strip()) if state else (),
        station=station,
        service=service_code,
        overdue=overdue,
        date_from=date_from,
        date_to=date_to,
        id_tail=id_tail,
    )
    rows, next_cursor = queries.list_cases(
        session, runtime=runtime, actor=actor, filters=filters, limit=limit, cursor=cursor
    )
    ref, today = runtime.reference(), runtime.today()
    return {
        "items": [present.case_dict(c, ref, today) for c in rows],
        "next_cursor": next_cursor,
    }


@router.get("/{case_no}")
def get_case(
    case_no: str, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One case; the applicant's ID number is masked (first 6, last 4)."""
    case = service.get_case(session, actor=actor, case_no=case_no)
    return present.case_dict(case, runtime.reference(), runtime.today(), actor)


@router.post("/{case_no}/actions")
def act(
    case_no: str, body: ActionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Apply a lifecycle action at the version the caller saw (409 if it is stale)."""
    case = service.act(uow, runtime=runtime, actor=actor, case_no=case_no, request=body)
    return present.case_dict(case, runtime.reference(), runtime.today(), actor)


@router.get("/{case_no}/events")
def events(case_no: str, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """The timeline of the case, oldest first."""
    return [present.event_dict(e) for e in service.events(session, actor=actor, case_no=case_no)]


@router.post("/{case_no}/applicant/id-number")
def reveal_id_number(case_no: str, actor: ActorDep, uow: UowDep) -> dict[str, str]:
    """The full ID number, for roles allowed to read it; every read is audited."""
    return {"id_number": service.reveal_id_number(uow, actor=actor, case_no=case_no)}


class RevealIn(BaseModel):
    """Why the full value is read (kept in the audit record)."""

    reason: str = Field(default="", max_length=service.MAX_REVEAL_REASON)


@router.post("/{case_no}/applicant/phone")
def reveal_phone(case_no: str, body: RevealIn, actor: ActorDep, uow: UowDep) -> dict[str, str]:
    """The full phone number to call the applicant: a reason is required; audited."""
    return {"phone": service.reveal_phone(uow, actor=actor, case_no=case_no, reason=body.reason)}
