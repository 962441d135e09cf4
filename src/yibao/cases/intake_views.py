"""The intake page (受理): the form, its live checks, the item picker and 当场办结."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from yibao.accounts.rules import Actor, Role
from yibao.cases import intake, picker, rules
from yibao.cases.labels import CHANNEL_LABELS, is_zh
from yibao.cases.schemas import CHANNELS, IntakeIn
from yibao.catalog.service import ServiceInfo
from yibao.errors import DomainError
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
from yibao.web.deps import RuntimeDep
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

ACTING = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)


def _instant_here(svc: ServiceInfo | None, channel: str, station_kind: str) -> bool:
    """Whether the page offers 当场办结 for this item at this station (the service decides)."""
    if svc is None:
        return False
    limit = rules.time_limit(svc.time_limit_days, svc.channel_limits, channel)
    return rules.completes_at_intake(limit, station_kind, svc.complete_kinds)


def _intake_context(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    ref = runtime.reference()
    kind = ref.units.get(actor.unit or "", "")
    accepted = [s for s in ref.services.values() if kind in s.accept_kinds]
    with runtime.db.session() as session:
        uses = intake.usual_items(session, runtime=runtime, actor=actor)
    default_channel = "mobile" if kind == "mobile" else "window"
    return {
        "services": picker.order(accepted, uses),
        "search_keys": {s.code: picker.search_keys(s) for s in accepted},
        "usual": {code for code, n in uses.items() if n > 0},
        "station_kind": kind,
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "default_channel": default_channel,
        "material_names": ref.material_names,
    }


@router.get("/intake")
def intake_form(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """受理: the intake form, built for a window (keyboard only, checked as it is typed)."""
    require_roles(actor, *ACTING)
    ctx = _intake_context(runtime, actor)
    ctx.update(
        values={"channel": ctx["default_channel"]}, errors={}, idempotency_key=str(uuid.uuid4())
    )
    return render(request, "cases/intake.html", ctx)


@router.post("/intake/check-id")
async def check_id(request: Request, actor: PageActor, _csrf: CsrfDep) -> HTMLResponse:
    """The ID number as typed: birth date and sex, or what is wrong (POST: keeps it out of logs)."""
    form = await request.form()
    raw = str(form.get("id_number") or "")
    ctx: dict[str, Any] = {"id": None, "error": None, "typed": raw.strip()}
    if raw.strip():
        try:
            ctx["id"] = people.parse_id_number(raw)
        except people.InvalidInput as exc:
            ctx["error"] = exc.message_zh if is_zh() else exc.message
    return render(request, "cases/_idcheck.html", ctx)


def _materials_context(
    ref: Reference, runtime: Runtime, actor: Actor, service_code: str, channel: str
) -> dict[str, Any]:
    svc = ref.services.get(service_code)
    due = None
    limit = None
    if svc is not None:
        limit = rules.time_limit(svc.time_limit_days, svc.channel_limits, channel)
        due = rules.due_at_intake(ref.calendar, runtime.today(), limit)
    kind = ref.units.get(actor.unit or "", "")
    return {
        "svc": svc,
        "due": due,
        "material_names": ref.material_names,
        "checked": [],
        "limit": limit,
        "offer_complete": _instant_here(svc, channel, kind)
        and svc is not None
        and kind in svc.accept_kinds,
    }


@router.get("/intake/materials")
def intake_materials(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    service_code: Annotated[str, Query(max_length=40)] = "",
    channel: Annotated[str, Query(max_length=10)] = "window",
) -> HTMLResponse:
    """The materials checklist, the promised date and whether 当场办结 is offered (HTMX)."""
    require_roles(actor, *ACTING)
    ctx = _materials_context(runtime.reference(), runtime, actor, service_code, channel)
    return render(request, "cases/_materials.html", {**ctx, "oob": True})


@router.post("/intake")
async def intake_submit(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Take the case (or take and complete it); a repeated submit returns the same case."""
    require_roles(actor, *ACTING)
    form = await request.form()
    values = {
        k: str(form.get(k) or "")
        for k in ("id_number", "name", "phone", "service_code", "channel", "note")
    }
    materials = [str(m) for m in form.getlist("materials")]
    key = str(form.get("idempotency_key") or "") or None
    complete_now = str(form.get("complete_now") or "") == "1"
    errors: dict[str, str] = {}
    message = None
    try:
        request_in = IntakeIn(
            service_code=values["service_code"],
            station_code=actor.unit or "",
            channel=values["channel"],
            applicant={
                "id_number": values["id_number"],
                "name": values["name"],
                "phone": values["phone"],
            },
            materials=materials,
            note=values["note"] or None,
            complete_now=complete_now,
        )
        with runtime.db.uow() as uow:
            result = intake.intake(
                uow, runtime=runtime, actor=actor, request=request_in, idempotency_key=key
            )
        done = "completed_at_intake" if result.case.state == "completed" else "intake"
        return RedirectResponse(f"/cases/{result.case.case_no}?done={done}", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errors, message = field_errors(failure), error_message(failure)
    except DomainError as exc:
        errors, message = field_errors(exc), error_message(exc)
    ctx = _intake_context(runtime, actor)
    ref = runtime.reference()
    ctx.update(
        values={**values, "materials": materials},
        errors=_intake_fields(errors),
        message=message,
        idempotency_key=key or str(uuid.uuid4()),
        offer_complete=_materials_context(
            ref, runtime, actor, values["service_code"], values["channel"]
        )["offer_complete"],
    )
    return render(request, "cases/intake.html", ctx, status_code=422)


def _intake_fields(errors: dict[str, str]) -> dict[str, str]:
    # The service names applicant fields by their API path; the form's inputs are flat.
    out: dict[str, str] = {}
    for field, msg in errors.items():
        name = field.removeprefix("applicant.")
        if name.startswith("materials["):
            name = "materials"
        out.setdefault(name, msg)
    return out
