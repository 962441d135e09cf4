"""HTTP adapters of visits: JSON under /api/v1/visits, and the citizens' /public/visits."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from yibao.cases import present
from yibao.errors import ValidationFailed
from yibao.visits import attention, citizens, commands, planner, planning, rules, service
from yibao.visits.service import (
    PlanConfirmIn,
    PlanIn,
    VisitCancelIn,
    VisitChangeIn,
    VisitDoneIn,
    VisitFilter,
    VisitIn,
)
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep
from yibao.web.openapi import html_page
from yibao.web.params import IsoDate
from yibao.web.problems import domain_problem
from yibao.web.templating import templates

router = APIRouter(prefix="/api/v1/visits", tags=["visits"])
public_router = APIRouter(prefix="/public", tags=["public"])

Text = Annotated[str | None, Query(max_length=50)]


def _visit(runtime: Any, session: Any, visit: Any) -> dict[str, Any]:
    towns = service.town_names(session, agency=runtime.agency)
    return service.visit_dict(visit, runtime.reference(), towns, today=runtime.today())


@router.get("")
def list_visits(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    station: Text = None,
    town: Annotated[str | None, Query(max_length=12, description="town code")] = None,
    village: Text = None,
    state: Annotated[str | None, Query(description="planned | done | cancelled")] = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 500,
) -> dict[str, Any]:
    """Visits the caller may see, by day and hour (default: the next four weeks)."""
    rows, cut = service.list_visits(
        session,
        runtime=runtime,
        actor=actor,
        filters=VisitFilter(
            station=station,
            town=town,
            village=village,
            state=state,
            date_from=date_from,
            date_to=date_to,
        ),
        limit=limit,
    )
    towns = service.town_names(session, agency=runtime.agency)
    ref, today = runtime.reference(), runtime.today()
    return {
        "items": [service.visit_dict(v, ref, towns, today=today) for v in rows],
        "truncated": cut,
    }


@router.post("", status_code=201)
def create_visit(
    body: VisitIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Plan a visit (supervisors); the time window defaults to the day's next free slot."""
    visit = commands.create_visit(uow, runtime=runtime, actor=actor, request=body)
    response.headers["Location"] = f"/api/v1/visits/{visit.id}"
    return _visit(runtime, uow.session, visit)


@router.get("/backlog")
def backlog(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=92)] = rules.DEFAULT_BACKLOG_DAYS,
) -> list[dict[str, Any]]:
    """Each planned visit of the next ``days`` days, with its village's cases that wait for
    materials (ID numbers masked)."""
    rows = attention.backlog(session, runtime=runtime, actor=actor, days=days)
    towns = service.town_names(session, agency=runtime.agency)
    ref, today = runtime.reference(), runtime.today()
    return [
        {
            **service.visit_dict(r.visit, ref, towns, today=today),
            "backlog": [present.case_dict(c, ref, today) for c in r.cases],
        }
        for r in rows
    ]


@router.get("/stale-villages")
def stale_villages(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=366)] = rules.DEFAULT_STALE_DAYS,
) -> list[dict[str, Any]]:
    """Villages served by mobile teams that nobody visited in the last ``days`` days."""
    towns = service.town_names(session, agency=runtime.agency)
    return [
        {
            "town_code": s.town_code,
            "town_name": towns.get(s.town_code, s.town_code),
            "village": s.village,
            "stations": s.stations,
            "last_visit": s.last_visit.isoformat() if s.last_visit else None,
            "days_since": s.days_since,
            "next_visit": s.next_visit.isoformat() if s.next_visit else None,
        }
        for s in attention.stale_villages(session, runtime=runtime, actor=actor, days=days)
    ]


@router.get("/past-planned")
def past_planned(runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """Visits of past days still only planned: to report done or cancel with a reason."""
    rows = attention.past_planned(session, runtime=runtime, actor=actor)
    return [_visit(runtime, session, v) for v in rows]


@router.get("/on-days-off")
def on_days_off(runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """Planned visits that fall on a day off of the current calendar: to move."""
    rows = attention.on_days_off(session, runtime=runtime, actor=actor)
    return [_visit(runtime, session, v) for v in rows]


def proposal_dict(proposal: planner.Proposal, towns: dict[str, str]) -> dict[str, Any]:
    """A planner proposal as JSON."""
    return {
        "from": proposal.request.start.isoformat(),
        "to": proposal.request.end.isoformat(),
        "interval_days": proposal.request.interval,
        "estimated": proposal.estimated,
        "visits": [
            {
                "station_code": v.station,
                "town_code": v.place[0],
                "town_name": towns.get(v.place[0], v.place[0]),
                "village": v.place[1],
                "date": v.day.isoformat(),
                "slot": v.slot,
            }
            for v in proposal.visits
        ],
        "targets": [
            {"town_code": p[0], "village": p[1], "days": days}
            for p, days in sorted(proposal.targets.items())
        ],
        "gaps": [
            {
                "station_code": g.station,
                "town_code": g.place[0],
                "village": g.place[1],
                "after": g.after.isoformat(),
                "until": g.until.isoformat(),
                "days": g.days,
            }
            for g in proposal.check.gaps
        ],
    }


@router.post("/plan")
def plan(body: PlanIn, runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
    """Propose an itinerary for a period (supervisors; nothing is written)."""
    proposal = planning.propose(session, runtime=runtime, actor=actor, request=body)
    return proposal_dict(proposal, service.town_names(session, agency=runtime.agency))


@router.post("/plan/confirm", status_code=201)
def confirm(
    body: PlanConfirmIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Create the visits of a reviewed proposal, all or none (supervisors)."""
    visits = commands.confirm_plan(uow, runtime=runtime, actor=actor, request=body)
    towns = service.town_names(uow.session, agency=runtime.agency)
    ref, today = runtime.reference(), runtime.today()
    return {"items": [service.visit_dict(v, ref, towns, today=today) for v in visits]}


@router.get("/{visit_id:uuid}")
def get_visit(
    visit_id: uuid.UUID, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One visit, with its log."""
    visit = service.get_visit(session, actor=actor, visit_id=visit_id)
    out = _visit(runtime, session, visit)
    out["events"] = [
        service.event_dict(e) for e in service.events(session, actor=actor, visit_id=visit_id)
    ]
    return out


@router.get("/{visit_id:uuid}/events")
def visit_events(visit_id: uuid.UUID, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """The log of a visit: planned, changed (what and why), cancelled, done."""
    return [service.event_dict(e) for e in service.events(session, actor=actor, visit_id=visit_id)]


@router.post("/{visit_id:uuid}/change")
def change(
    visit_id: uuid.UUID, body: VisitChangeIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Move a planned visit; the reason is required (409 on a stale version)."""
    visit = commands.change_visit(
        uow, runtime=runtime, actor=actor, visit_id=visit_id, request=body
    )
    return _visit(runtime, uow.session, visit)


@router.post("/{visit_id:uuid}/cancel")
def cancel(
    visit_id: uuid.UUID, body: VisitCancelIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Cancel a planned visit; the reason is required (409 on a stale version)."""
    visit = commands.cancel_visit(
        uow, runtime=runtime, actor=actor, visit_id=visit_id, request=body
    )
    return _visit(runtime, uow.session, visit)


@router.post("/{visit_id:uuid}/done")
def done(
    visit_id: uuid.UUID, body: VisitDoneIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Report that a visit took place (the station's staff or a supervisor)."""
    visit = commands.mark_done(uow, runtime=runtime, actor=actor, visit_id=visit_id, request=body)
    return _visit(runtime, uow.session, visit)


# ---------------------------------------------------------------- citizens


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@public_router.get("/visits", response_model=None, responses=html_page())
def public_visits(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    village: Text = None,
    town: Text = None,
    q: Text = None,
) -> Response:
    """The next visits of mobile stations to a village; no login. JSON for clients.

    The page lets a citizen choose the town first, or search a village by name."""
    error: ValidationFailed | None = None
    items: list[dict[str, Any]] = []
    towns = service.town_names(session, agency=runtime.agency)
    if village is not None or _wants_json(request):
        try:
            visits = citizens.next_visits(
                session, runtime=runtime, village=village or "", town=town
            )
            ref = runtime.reference()
            items = [citizens.public_visit(v, ref, towns) for v in visits]
        except ValidationFailed as exc:
            error = exc
    if _wants_json(request):
        if error is not None:
            return domain_problem(error)
        return JSONResponse({"village": village, "items": items})
    every = [
        (v.town_code, towns.get(v.town_code, v.town_code), v.name)
        for v in service.list_villages(session, agency=runtime.agency)
    ]
    town_options = list(dict.fromkeys((code, name) for code, name, _v in every))
    chosen = rules.village_choice(every, town=town, query=q)
    villages: dict[str, list[str]] = {}
    for _code, town_name, name in chosen:
        villages.setdefault(town_name, []).append(name)
    return templates.TemplateResponse(
        request,
        "visits/public.html",
        {
            "village": village or "",
            "town": town or "",
            "q": q or "",
            "items": items,
            "asked": village is not None,
            "message": error.errors[0].message_zh if error is not None else None,
            "villages": villages,
            "towns": town_options,
            "matches": chosen if (town or q) and village is None else [],
            "searched": bool(town or q) and village is None,
            "estimated": any(i["estimated"] for i in items),
        },
        status_code=422 if error is not None else 200,
    )
