"""The planner's page: propose an itinerary for a period, adjust and check it, confirm it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from yibao.accounts.rules import Actor, Role
from yibao.errors import ValidationFailed
from yibao.runtime import Runtime
from yibao.visits import commands, planner, planning, rules, service
from yibao.visits.page_common import common_context, is_zh, parse_date
from yibao.visits.service import PlanConfirmIn, PlanIn, VisitIn
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    CsrfDep,
    PageActor,
    error_message,
    field_errors,
    pydantic_errors,
    render,
    require_roles,
)

router = APIRouter(include_in_schema=False)


def _plan_in(raw: dict[str, str], today: date) -> tuple[PlanIn | None, dict[str, str]]:
    errors: dict[str, str] = {}
    monday = rules.week_start(today) + timedelta(days=7)
    start = parse_date(raw.get("from")) if raw.get("from") else monday
    if start is None:
        errors["from"] = _("Not a date (YYYY-MM-DD).")
    end = parse_date(raw.get("to")) if raw.get("to") else (start or monday) + timedelta(days=27)
    if end is None:
        errors["to"] = _("Not a date (YYYY-MM-DD).")

    def number(name: str, default: int) -> int | None:
        text = (raw.get(name) or "").strip()
        if not text:
            return default
        if not text.isdigit():
            errors[name] = _("A whole number.")
            return None
        return int(text)

    interval = number("interval", planner.DEFAULT_INTERVAL)
    capacity = number("capacity", planner.DEFAULT_CAPACITY)
    if errors or start is None or end is None or interval is None or capacity is None:
        return None, errors
    try:
        plan = PlanIn(date_from=start, date_to=end, interval_days=interval, capacity=capacity)
        planning.check_plan_input(plan, today)
    except ValidationError as exc:
        found = field_errors(pydantic_errors(exc.errors()))  # type: ignore[arg-type]
        names = {"interval_days": "interval", "date_from": "from", "date_to": "to"}
        return None, {names.get(k, k): v for k, v in found.items()}
    except ValidationFailed as exc:
        names = {"interval_days": "interval", "date_from": "from", "date_to": "to"}
        return None, {names.get(k, k): v for k, v in field_errors(exc).items()}
    return plan, {}


def _plan_context(
    runtime: Runtime,
    actor: Actor,
    plan: PlanIn,
    rows: list[dict[str, Any]],
    check: planner.Check,
    *,
    proposal: planner.Proposal | None = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        towns = service.town_names(session, agency=actor.agency)
    names = runtime.reference().unit_names
    ref = runtime.reference()
    return {
        "plan": plan,
        "rows": rows,
        "gaps": [
            {
                "station": g.station,
                "town": towns.get(g.place[0], g.place[0]),
                "village": g.place[1],
                "after": g.after,
                "until": g.until,
                "days": g.days,
            }
            for g in check.gaps
        ],
        "overloads": list(check.overloads),
        "days_off": [(v.station, v.place[1], v.day) for v in check.days_off],
        "town_names": towns,
        "unit_names": names,
        "estimated": proposal.estimated
        if proposal
        else any(not ref.calendar.is_official(y) for y in {plan.date_from.year, plan.date_to.year}),
        "targets": {f"{p[0]}|{p[1]}": d for p, d in proposal.targets.items()} if proposal else {},
    }


def _rows(proposal: planner.Proposal, ref: Any) -> list[dict[str, Any]]:
    return [
        {
            "i": i,
            "station": v.station,
            "town": v.place[0],
            "village": v.place[1],
            "date": v.day.isoformat(),
            "weekday": v.day.weekday(),
            "keep": True,
            "working": ref.calendar.is_working_day(v.day),
            "estimated": not ref.calendar.is_official(v.day.year),
        }
        for i, v in enumerate(proposal.visits)
    ]


@router.get("/visits/plan")
def plan_page(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    interval: Annotated[str | None, Query(max_length=4)] = None,
    capacity: Annotated[str | None, Query(max_length=3)] = None,
) -> HTMLResponse:
    """The planner: choose a period, review the proposed visits, adjust, confirm."""
    require_roles(actor, Role.SUPERVISOR)
    raw = {
        "from": date_from or "",
        "to": date_to or "",
        "interval": interval or "",
        "capacity": capacity or "",
    }
    today = runtime.today()
    plan, errors = _plan_in(raw, today)
    ctx: dict[str, Any] = {
        **common_context(runtime),
        "form": raw,
        "errors": errors,
        "plan": None,
        "asked": date_from is not None,
        "message": None,
    }
    if plan is None:
        return render(request, "visits/plan.html", ctx, status_code=422)
    ctx["form"] = {
        "from": plan.date_from.isoformat(),
        "to": plan.date_to.isoformat(),
        "interval": str(plan.interval_days),
        "capacity": str(plan.capacity),
    }
    if date_from is not None:
        with runtime.db.session() as session:
            proposal = planning.propose(session, runtime=runtime, actor=actor, request=plan)
        ctx.update(
            _plan_context(
                runtime,
                actor,
                plan,
                _rows(proposal, runtime.reference()),
                proposal.check,
                proposal=proposal,
            )
        )
    return render(request, "visits/plan.html", ctx)


@router.post("/visits/plan")
async def plan_submit(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Check the adjusted proposal again, or confirm it (the kept visits are created)."""
    require_roles(actor, Role.SUPERVISOR)
    form = await request.form()
    raw = {k: str(form.get(k) or "") for k in ("from", "to", "interval", "capacity")}
    today = runtime.today()
    plan, errors = _plan_in(raw, today)
    ctx: dict[str, Any] = {
        **common_context(runtime),
        "form": raw,
        "errors": errors,
        "plan": None,
        "asked": True,
        "message": None,
    }
    if plan is None:
        return render(request, "visits/plan.html", ctx, status_code=422)
    ref = runtime.reference()
    rows: list[dict[str, Any]] = []
    count = int(str(form.get("count") or "0")) if str(form.get("count") or "0").isdigit() else 0
    row_errors: dict[int, str] = {}
    for i in range(min(count, 5000)):
        place = str(form.get(f"r{i}") or "")
        station, _s1, rest = place.partition("|")
        town, _s2, village = rest.partition("|")
        if not (station and town and village):
            continue
        raw_day = str(form.get(f"d{i}") or "")
        day = parse_date(raw_day)
        if day is None:
            row_errors[i] = _("Not a date (YYYY-MM-DD).")
        rows.append(
            {
                "i": i,
                "station": station,
                "town": town,
                "village": village,
                "date": day.isoformat() if day else raw_day,
                "weekday": day.weekday() if day else None,
                "keep": form.get(f"k{i}") is not None,
                "working": ref.calendar.is_working_day(day) if day else True,
                "estimated": day is not None and not ref.calendar.is_official(day.year),
            }
        )
    kept = [r for r in rows if r["keep"] and r["i"] not in row_errors]
    action = str(form.get("action") or "check")
    if action == "confirm" and not row_errors:
        try:
            with runtime.db.session() as session:
                teams = planning.default_teams(session, agency=actor.agency)
            body = PlanConfirmIn(
                visits=[
                    VisitIn(
                        station_code=r["station"],
                        village=r["village"],
                        date=date.fromisoformat(r["date"]),
                        team=teams.get(r["station"], []),
                    )
                    for r in kept
                ]
            )
            with runtime.db.uow() as uow:
                made = commands.confirm_plan(uow, runtime=runtime, actor=actor, request=body)
            return RedirectResponse(
                f"/visits?week={plan.date_from.isoformat()}&done=planned&n={len(made)}",
                status_code=303,
            )
        except ValidationFailed as exc:
            for e in exc.errors:
                if e.field.startswith("visits["):
                    index = int(e.field[7 : e.field.index("]")])
                    if index < len(kept):
                        row_errors.setdefault(
                            kept[index]["i"],
                            e.message_zh if is_zh() and e.message_zh else e.message,
                        )
            ctx["message"] = error_message(exc)
        except ValidationError as exc:
            ctx["message"] = error_message(pydantic_errors(exc.errors()))  # type: ignore[arg-type]
    proposed = [
        planner.Proposed(r["station"], (r["town"], r["village"]), date.fromisoformat(r["date"]), 0)
        for r in kept
    ]
    with runtime.db.session() as session:
        check = planning.review(
            session, runtime=runtime, actor=actor, request=plan, visits=proposed
        )
    ctx["form"] = {
        "from": plan.date_from.isoformat(),
        "to": plan.date_to.isoformat(),
        "interval": str(plan.interval_days),
        "capacity": str(plan.capacity),
    }
    ctx.update(_plan_context(runtime, actor, plan, rows, check))
    ctx["row_errors"] = row_errors
    ctx["checked"] = True
    status = 422 if row_errors or ctx["message"] else 200
    return render(request, "visits/plan.html", ctx, status_code=status)
