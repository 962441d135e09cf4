"""HTML pages of mobile visits: the week calendar, the list per town, a new visit, one visit
(the planner's page is plan_views.py)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from yibao.accounts.rules import Actor, Role
from yibao.cases import present
from yibao.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from yibao.runtime import Runtime
from yibao.visits import attention, commands, plan_views, planning, rules, service
from yibao.visits.page_common import (
    READERS,
    WEEKDAY_LABELS,
    Q,
    common_context,
    parse_date,
    parse_time,
)
from yibao.visits.rules import VisitState
from yibao.visits.service import (
    VisitCancelIn,
    VisitChangeIn,
    VisitDoneIn,
    VisitFilter,
    VisitIn,
)
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
# The planner's routes first: /visits/plan must match before /visits/{visit_id}.
router.include_router(plan_views.router)

# ---------------------------------------------------------------- the calendar and the lists


@router.get("/visits")
def visits_page(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    view: Annotated[str, Query(max_length=10)] = "week",
    week: Q = None,
    station: Q = None,
    town: Q = None,
) -> HTMLResponse:
    """Visits by week (a calendar) or by town (a list), the backlog waiting for the next visits
    and the villages nobody visited for 30 days."""
    require_roles(actor, *READERS)
    today = runtime.today()
    errors: dict[str, str] = {}
    monday = rules.week_start(today)
    if week:
        chosen = parse_date(week)
        if chosen is None:
            errors["week"] = _("Not a date (YYYY-MM-DD).")
        else:
            monday = rules.week_start(chosen)
    towns_view = view == "towns"
    ref = runtime.reference()
    with runtime.db.session() as session:
        towns = service.town_names(session, agency=actor.agency)
        stations = service.mobile_stations(session, agency=actor.agency)
        if not actor.agency_wide:
            stations = [s for s in stations if s.code == actor.unit]
        if towns_view:
            first, last = (
                today - timedelta(days=rules.DEFAULT_STALE_DAYS),
                today + timedelta(days=55),
            )
        else:
            first, last = monday, monday + timedelta(days=6)
        rows: list[Any] = []
        if not errors:
            try:
                rows, _cut = service.list_visits(
                    session,
                    runtime=runtime,
                    actor=actor,
                    filters=VisitFilter(
                        station=station or None,
                        town=town or None,
                        date_from=first,
                        date_to=last,
                    ),
                    limit=service.MAX_LIST,
                )
            except ValidationFailed as exc:
                errors = field_errors(exc)
        visits = [service.visit_dict(v, ref, towns, today=today) for v in rows]
        upcoming = attention.backlog(session, runtime=runtime, actor=actor)
        backlog = [
            {
                "visit": service.visit_dict(r.visit, ref, towns, today=today),
                "cases": [present.case_dict(c, ref, today) for c in r.cases],
            }
            for r in upcoming
            if r.cases
        ]
        stale = attention.stale_villages(session, runtime=runtime, actor=actor)
        to_close: list[dict[str, Any]] = []
        to_move: list[dict[str, Any]] = []
        if actor.role is Role.SUPERVISOR:
            to_close = [
                service.visit_dict(v, ref, towns, today=today)
                for v in attention.past_planned(session, runtime=runtime, actor=actor)
            ]
            to_move = [
                service.visit_dict(v, ref, towns, today=today)
                for v in attention.on_days_off(session, runtime=runtime, actor=actor)
            ]
        by_town = _by_town(session, stations, towns, visits, today) if towns_view else []
    days = [monday + timedelta(days=i) for i in range(7)]
    context = {
        **common_context(runtime),
        "view": "towns" if towns_view else "week",
        "monday": monday,
        "days": [
            {
                "date": d,
                "working": ref.calendar.is_working_day(d),
                "estimated": not ref.calendar.is_official(d.year),
                "visits": [v for v in visits if v["date"] == d.isoformat()],
            }
            for d in days
        ],
        "prev_week": (monday - timedelta(days=7)).isoformat(),
        "next_week": (monday + timedelta(days=7)).isoformat(),
        "this_week": rules.week_start(today).isoformat(),
        "stations": [(s.code, s.name) for s in stations],
        "towns": sorted(
            {(s.town_code, towns.get(s.town_code, "")) for s in stations if s.town_code}
        ),
        "form": {"station": station or "", "town": town or "", "week": week or ""},
        "errors": errors,
        "backlog": backlog,
        "upcoming": len(upcoming),
        "backlog_days": rules.DEFAULT_BACKLOG_DAYS,
        "stale": stale,
        "stale_days": rules.DEFAULT_STALE_DAYS,
        "to_close": to_close,
        "official_years": set(ref.calendar.official_years()),
        "to_move": to_move,
        "town_names": towns,
        "by_town": by_town,
        "can_plan": actor.role is Role.SUPERVISOR,
        "done": request.query_params.get("done"),
    }
    return render(request, "visits/index.html", context, status_code=422 if errors else 200)


def _by_town(
    session: Any,
    stations: list[Any],
    towns: dict[str, str],
    visits: list[dict[str, Any]],
    today: date,
) -> list[dict[str, Any]]:
    """Towns → villages, each with its last visit and the planned ones ahead."""
    last = (
        attention.last_visits(session, agency=stations[0].agency, before=today) if stations else {}
    )
    out: dict[str, dict[str, Any]] = {}
    for s in stations:
        if not s.town_code:
            continue
        town = out.setdefault(
            s.town_code, {"code": s.town_code, "name": towns.get(s.town_code, ""), "villages": []}
        )
        for name in s.villages or []:
            ahead = [
                v
                for v in visits
                if v["town_code"] == s.town_code
                and v["village"] == name
                and v["state"] == "planned"
                and v["date"] >= today.isoformat()
            ]
            seen = last.get((s.town_code, name))
            town["villages"].append(
                {
                    "name": name,
                    "station": s.code,
                    "last": seen,
                    "days_since": rules.days_since(seen, today),
                    "ahead": ahead[:4],
                }
            )
    return [out[k] for k in sorted(out)]


# ---------------------------------------------------------------- a new visit


def _new_context(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    with runtime.db.session() as session:
        stations = service.mobile_stations(session, agency=actor.agency)
        teams = planning.default_teams(session, agency=actor.agency)
    return {
        **common_context(runtime),
        "stations": [
            {"code": s.code, "name": s.name, "villages": list(s.villages or [])} for s in stations
        ],
        "teams": teams,
    }


@router.get("/visits/new")
def new_visit(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """Plan one visit (supervisors)."""
    require_roles(actor, Role.SUPERVISOR)
    ctx = _new_context(runtime, actor)
    tomorrow = runtime.today() + timedelta(days=1)
    ctx.update(values={"date": tomorrow.isoformat()}, errors={}, message=None)
    return render(request, "visits/new.html", ctx)


def _team(raw: str) -> list[str]:
    return [t for t in raw.replace("，", ",").replace(",", " ").split() if t]


@router.post("/visits/new")
async def create_visit(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Create the visit; a blank team means the station's own staff."""
    require_roles(actor, Role.SUPERVISOR)
    form = await request.form()
    values = {
        k: str(form.get(k) or "").strip() for k in ("place", "date", "start", "end", "team", "note")
    }
    station_code, _sep, village = values["place"].partition("|")
    errors: dict[str, str] = {}
    message = None
    try:
        team = _team(values["team"])
        if not team:
            with runtime.db.session() as session:
                team = planning.default_teams(session, agency=actor.agency).get(station_code, [])
        body = VisitIn(
            station_code=station_code,
            village=village,
            date=values["date"],
            start=values["start"] or None,
            end=values["end"] or None,
            team=team,
            note=values["note"] or None,
        )
        with runtime.db.uow() as uow:
            visit = commands.create_visit(uow, runtime=runtime, actor=actor, request=body)
        return RedirectResponse(f"/visits/{visit.id}?done=created", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errors, message = field_errors(failure), error_message(failure)
    except DomainError as exc:
        errors, message = field_errors(exc), error_message(exc)
    errors = _flat(errors)
    if "station_code" in errors or "village" in errors:
        errors.setdefault("place", errors.get("station_code") or errors.get("village", ""))
    ctx = _new_context(runtime, actor)
    ctx.update(values=values, errors=errors, message=message)
    return render(request, "visits/new.html", ctx, status_code=422)


def _flat(errors: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, msg in errors.items():
        name = "team" if field.startswith("team[") else field
        out.setdefault(name, msg)
    return out


# ---------------------------------------------------------------- one visit


def _visit_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    visit_id: uuid.UUID,
    *,
    status_code: int = 200,
    message: str | None = None,
    message_kind: str = "error",
    errors: dict[str, str] | None = None,
    failed: str | None = None,
) -> HTMLResponse:
    ref = runtime.reference()
    today = runtime.today()
    with runtime.db.session() as session:
        try:
            visit = service.get_visit(session, actor=actor, visit_id=visit_id)
        except NotFound:
            return render(
                request,
                "error.html",
                {"title": _("Not found"), "message": _("No such visit that you may see.")},
                status_code=404,
            )
        except Forbidden:
            raise PageForbidden from None
        towns = service.town_names(session, agency=actor.agency)
        view = service.visit_dict(visit, ref, towns, today=today)
        log = [
            service.event_dict(e) for e in service.events(session, actor=actor, visit_id=visit_id)
        ]
        taken = [
            present.case_dict(c, ref, today)
            for c in service.cases_of_visit(session, actor=actor, visit_id=visit_id)
        ]
        waiting: list[dict[str, Any]] = []
        if visit.state == VisitState.PLANNED.value and visit.visit_date >= today:
            for row in attention.backlog(session, runtime=runtime, actor=actor, days=92):
                if row.visit.id == visit.id:
                    waiting = [present.case_dict(c, ref, today) for c in row.cases]
        station = next(
            (
                s
                for s in service.mobile_stations(session, agency=actor.agency)
                if s.code == visit.station_code
            ),
            None,
        )
    planned = visit.state == VisitState.PLANNED.value
    own = actor.role in (Role.CLERK, Role.STATION_MASTER) and actor.unit == visit.station_code
    return render(
        request,
        "visits/visit.html",
        {
            **common_context(runtime),
            "v": view,
            "weekday": WEEKDAY_LABELS[visit.visit_date.weekday()],
            "log": log,
            "taken": taken,
            "waiting": waiting,
            "villages": list(station.villages or []) if station else [view["village"]],
            "can_change": planned and actor.role is Role.SUPERVISOR,
            "can_done": planned
            and visit.visit_date <= today
            and (actor.role is Role.SUPERVISOR or own),
            "message": message,
            "message_kind": message_kind,
            "errors": errors or {},
            "failed": failed,
            "move": request.query_params.get("move") == "1",
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/visits/{visit_id}")
def visit_page(
    visit_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One visit: where and when, the team, its log, the cases taken on it and those waiting."""
    require_roles(actor, *READERS)
    return _visit_page(request, runtime, actor, visit_id)


async def _act(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    visit_id: uuid.UUID,
    what: str,
) -> Response:
    form = await request.form()
    raw_version = str(form.get("version") or "0")
    version = int(raw_version) if raw_version.isdigit() else 0
    try:
        with runtime.db.uow() as uow:
            if what == "change":
                team_raw = str(form.get("team") or "")
                body = VisitChangeIn(
                    version=max(version, 1),
                    reason=str(form.get("reason") or "") or None,
                    date=parse_date(str(form.get("date") or "")),
                    start=parse_time(str(form.get("start") or "")),
                    end=parse_time(str(form.get("end") or "")),
                    village=str(form.get("village") or "") or None,
                    team=_team(team_raw),
                )
                commands.change_visit(
                    uow, runtime=runtime, actor=actor, visit_id=visit_id, request=body
                )
            elif what == "cancel":
                commands.cancel_visit(
                    uow,
                    runtime=runtime,
                    actor=actor,
                    visit_id=visit_id,
                    request=VisitCancelIn(
                        version=max(version, 1), reason=str(form.get("reason") or "") or None
                    ),
                )
            else:
                commands.mark_done(
                    uow,
                    runtime=runtime,
                    actor=actor,
                    visit_id=visit_id,
                    request=VisitDoneIn(version=max(version, 1)),
                )
        return RedirectResponse(f"/visits/{visit_id}?done={what}", status_code=303)
    except Conflict:
        return _visit_page(
            request,
            runtime,
            actor,
            visit_id,
            status_code=409,
            message_kind="warn",
            message=_(
                "Someone else changed this visit while you were looking at it. "
                "This is its current state; nothing of yours was saved."
            ),
        )
    except ValidationError as exc:
        failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        return _visit_page(
            request,
            runtime,
            actor,
            visit_id,
            status_code=422,
            message=error_message(failure),
            errors=_flat(field_errors(failure)),
            failed=what,
        )
    except ValidationFailed as exc:
        errors = _flat(field_errors(exc))
        return _visit_page(
            request,
            runtime,
            actor,
            visit_id,
            status_code=422,
            message=error_message(exc)
            if set(errors) - {"state", "body"}
            else next(iter(errors.values())),
            errors=errors,
            failed=what,
        )
    except (Forbidden, NotFound):
        raise PageForbidden from None


@router.post("/visits/{visit_id}/change")
async def change_visit(
    visit_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Move a planned visit, with the reason (supervisors)."""
    require_roles(actor, Role.SUPERVISOR)
    return await _act(request, runtime, actor, visit_id, "change")


@router.post("/visits/{visit_id}/cancel")
async def cancel_visit(
    visit_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Cancel a planned visit, with the reason (supervisors)."""
    require_roles(actor, Role.SUPERVISOR)
    return await _act(request, runtime, actor, visit_id, "cancel")


@router.post("/visits/{visit_id}/done")
async def visit_done(
    visit_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Report that the visit took place (the station's staff or a supervisor)."""
    require_roles(actor, Role.SUPERVISOR, Role.CLERK, Role.STATION_MASTER)
    return await _act(request, runtime, actor, visit_id, "done")
