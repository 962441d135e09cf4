"""HTML pages of cases: the queue (待办), intake (受理) and the case page, over the use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from yibao.accounts.rules import FULL_ID_ROLES, Actor, Role
from yibao.cases import lifecycle, panels, present, queries, rules, service
from yibao.cases.lifecycle import (
    ACTION_LABELS_EN,
    ACTION_LABELS_ZH,
    STATE_LABELS_EN,
    STATE_LABELS_ZH,
    Action,
    State,
)
from yibao.cases.queries import CaseFilter, Order
from yibao.cases.schemas import CHANNELS, ActionIn, IntakeIn
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from yibao.people import rules as people
from yibao.runtime import Reference, Runtime
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

PAGE_SIZE = 30
ACTING = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
CHANNEL_LABELS = {
    "window": "Window",
    "mobile": "Mobile visit",
    "online": "Online",
    "phone": "Phone",
}
KIND_LABELS = {
    "bureau": "Bureau hall",
    "fixed": "Hospital station",
    "town": "Town station",
    "village": "Village station",
    "mobile": "Mobile station",
}


# ---------------------------------------------------------------- lists


def _filters_from(
    *,
    state: str | None,
    service_code: str | None,
    channel: str | None,
    date_from: str | None,
    date_to: str | None,
    overdue: str | None,
    q: str | None,
    station: str | None,
) -> tuple[CaseFilter, dict[str, str]]:
    """Page filters as typed by a person: empty means "any"; bad dates become field errors."""
    errors: dict[str, str] = {}

    def _date(name: str, raw: str | None) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = _("Not a date (YYYY-MM-DD).")
            return None

    f = CaseFilter(
        states=(state,) if state else (),
        service=service_code or None,
        channel=channel or None,
        date_from=_date("date_from", date_from),
        date_to=_date("date_to", date_to),
        overdue=True if overdue else None,
        q=(q or "").strip() or None,
        station=station or None,
    )
    return f, errors


def _list_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    *,
    mode: str,
    params: dict[str, Any],
    cursor: str | None,
    rows_only: bool,
) -> HTMLResponse:
    f, errors = _filters_from(**params)
    if mode == "queue":
        # My queue: open cases sitting with my unit (own and forwarded to it), most urgent first.
        f = CaseFilter(**{**f.__dict__, "unit": actor.unit, "open_only": True, "station": None})
        order = Order.URGENT
    else:
        order = Order.NEWEST
    ref = runtime.reference()
    rows: list[dict[str, Any]] = []
    notices: list[panels.Notice] = []
    next_cursor = None
    if not errors:
        try:
            with runtime.db.session() as session:
                cases, next_cursor = queries.list_cases(
                    session,
                    runtime=runtime,
                    actor=actor,
                    filters=f,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                    order=order,
                )
                today = runtime.today()
                rows = [present.case_dict(c, ref, today) for c in cases]
                if mode == "queue" and not rows_only:
                    notices = panels.queue_notices(session, runtime, actor)
        except ValidationFailed as exc:
            errors = field_errors(exc)
    query = {k: v for k, v in params.items() if v}
    ctx = {
        "mode": mode,
        "rows": rows,
        "next_cursor": next_cursor,
        "filters": params,
        "query": query,
        "errors": errors,
        **_choices(ref, actor),
        "page_size": PAGE_SIZE,
        "notices": notices,
    }
    name = "cases/_rows.html" if rows_only else "cases/list.html"
    return render(request, name, ctx, status_code=422 if errors and not rows_only else 200)


def _choices(ref: Reference, actor: Actor) -> dict[str, Any]:
    return {
        "states": list(_state_labels().items()),
        "services": [(s.code, s.name_zh, s.name_en) for s in ref.services.values()],
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "stations": [(code, name) for code, name in ref.unit_names.items()],
        "channel_labels": CHANNEL_LABELS,
    }


Q = Annotated[str | None, Query(max_length=40)]


@dataclass
class ListQuery:
    """The list pages' query string: filters as typed, and the page cursor."""

    state: Q = None
    service: Q = None
    channel: Q = None
    date_from: Q = None
    date_to: Q = None
    overdue: Q = None
    q: Q = None
    station: Q = None
    cursor: Annotated[str | None, Query(max_length=400)] = None

    def params(self, *, with_station: bool) -> dict[str, Any]:
        """The filters in the form ``_filters_from`` takes."""
        return {
            "state": self.state,
            "service_code": self.service,
            "channel": self.channel,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "overdue": self.overdue,
            "q": self.q,
            "station": self.station if with_station else None,
        }


ListDep = Annotated[ListQuery, Depends()]


def _list(
    request: Request, runtime: Runtime, actor: Actor, lq: ListQuery, *, mode: str, rows_only: bool
) -> HTMLResponse:
    if mode == "queue":
        require_roles(actor, *ACTING)
    else:
        require_roles(actor, *ACTING, Role.SUPERVISOR)
    return _list_page(
        request,
        runtime,
        actor,
        mode=mode,
        params=lq.params(with_station=mode != "queue"),
        cursor=lq.cursor,
        rows_only=rows_only,
    )


@router.get("/queue")
def queue(request: Request, runtime: RuntimeDep, actor: PageActor, lq: ListDep) -> HTMLResponse:
    """待办: the open cases of my unit, most urgent first."""
    return _list(request, runtime, actor, lq, mode="queue", rows_only=False)


@router.get("/queue/rows")
def queue_rows(
    request: Request, runtime: RuntimeDep, actor: PageActor, lq: ListDep
) -> HTMLResponse:
    """The queue's rows (HTMX: filtering, paging and the live refresh)."""
    return _list(request, runtime, actor, lq, mode="queue", rows_only=True)


@router.get("/cases")
def all_cases(request: Request, runtime: RuntimeDep, actor: PageActor, lq: ListDep) -> HTMLResponse:
    """Every case the actor may see, newest first (bureau and supervisors; stations: their own)."""
    return _list(request, runtime, actor, lq, mode="all", rows_only=False)


@router.get("/cases/rows")
def all_cases_rows(
    request: Request, runtime: RuntimeDep, actor: PageActor, lq: ListDep
) -> HTMLResponse:
    """Rows of the all-cases list (HTMX)."""
    return _list(request, runtime, actor, lq, mode="all", rows_only=True)


# ---------------------------------------------------------------- intake


def _intake_context(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    ref = runtime.reference()
    kind = ref.units.get(actor.unit or "", "")
    services = [s for s in ref.services.values() if kind in s.accept_kinds]
    return {
        "services": services,
        "station_kind": kind,
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "default_channel": "mobile" if kind == "mobile" else "window",
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
            ctx["error"] = exc.message_zh if _zh() else exc.message
    return render(request, "cases/_idcheck.html", ctx)


@router.get("/intake/materials")
def intake_materials(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    service_code: Annotated[str, Query(max_length=40)] = "",
    channel: Annotated[str, Query(max_length=10)] = "window",
) -> HTMLResponse:
    """The materials checklist and the promised date of the chosen item (HTMX)."""
    require_roles(actor, *ACTING)
    ref = runtime.reference()
    svc = ref.services.get(service_code)
    due = None
    limit = None
    if svc is not None:
        limit = rules.time_limit(svc.time_limit_days, svc.channel_limits, channel)
        due = rules.due_at_intake(ref.calendar, runtime.today(), limit)
    return render(
        request,
        "cases/_materials.html",
        {
            "svc": svc,
            "due": due,
            "material_names": ref.material_names,
            "checked": [],
            "limit": limit,
        },
    )


@router.post("/intake")
async def intake_submit(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Take the case; a repeated submit (same key) returns the same case."""
    require_roles(actor, *ACTING)
    form = await request.form()
    values = {
        k: str(form.get(k) or "")
        for k in ("id_number", "name", "phone", "service_code", "channel", "note")
    }
    materials = [str(m) for m in form.getlist("materials")]
    key = str(form.get("idempotency_key") or "") or None
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
        )
        with runtime.db.uow() as uow:
            result = service.intake(
                uow, runtime=runtime, actor=actor, request=request_in, idempotency_key=key
            )
        return RedirectResponse(f"/cases/{result.case.case_no}?done=intake", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errors, message = field_errors(failure), error_message(failure)
    except DomainError as exc:
        errors, message = field_errors(exc), error_message(exc)
    ctx = _intake_context(runtime, actor)
    ctx.update(
        values={**values, "materials": materials},
        errors=_intake_fields(errors),
        message=message,
        idempotency_key=key or str(uuid.uuid4()),
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


def _action_labels() -> dict[str, str]:
    zh = _zh()
    labels = {a.value: (ACTION_LABELS_ZH[a] if zh else ACTION_LABELS_EN[a]) for a in Action}
    labels["intake"] = "受理" if zh else "Intake"
    labels["download"] = "下载到本机" if zh else "Downloaded"
    return labels


def _state_labels() -> dict[str, str]:
    zh = _zh()
    return {s.value: (STATE_LABELS_ZH[s] if zh else STATE_LABELS_EN[s]) for s in State}


def _zh() -> bool:
    from yibao.web.i18n import current_locale

    return current_locale.get() == "zh_CN"


# ---------------------------------------------------------------- one case


def _case_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    case_no: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    message_kind: str = "error",
    errors: dict[str, str] | None = None,
    failed_action: str | None = None,
) -> HTMLResponse:
    ref = runtime.reference()
    with runtime.db.session() as session:
        try:
            case = service.get_case(session, actor=actor, case_no=case_no)
        except (NotFound, Forbidden):
            return render(
                request,
                "error.html",
                {
                    "title": _("Case not found"),
                    "message": _("No case %(no)s that you may see.") % {"no": case_no},
                },
                status_code=404,
            )
        events = service.events(session, actor=actor, case_no=case_no)
        view = present.case_dict(case, ref, runtime.today(), actor)
        shown_panels = panels.render_panels(session, runtime, actor, case)
    svc = ref.services.get(case.service_code)
    outstanding = [m for m in (svc.materials if svc else ()) if m not in view["materials_received"]]
    units = [
        (code, name, ref.units[code]) for code, name in ref.unit_names.items() if code != case.unit
    ]
    units.sort(key=lambda u: (u[2] != "bureau", u[0]))
    return render(
        request,
        "cases/case.html",
        {
            "case": view,
            "events": [present.event_dict(e) for e in events],
            "svc": svc,
            "material_names": ref.material_names,
            "outstanding": outstanding,
            "units": units,
            "complete_kinds": sorted(svc.complete_kinds) if svc else [],
            "action_labels": _action_labels(),
            "state_labels": _state_labels(),
            "needs_reason": {a.value for a in lifecycle.NEEDS_REASON},
            "can_reveal": actor.role in FULL_ID_ROLES,
            "message": message,
            "message_kind": message_kind,
            "errors": errors or {},
            "failed_action": failed_action,
            "done": request.query_params.get("done"),
            "kind_labels": KIND_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "panels": shown_panels,
        },
        status_code=status_code,
    )


@router.get("/cases/{case_no}")
def case_page(
    case_no: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One case: applicant (masked), item, deadline, timeline, and the actions allowed now."""
    require_roles(actor, *ACTING, Role.SUPERVISOR)
    return _case_page(request, runtime, actor, case_no)


@router.post("/cases/{case_no}/act")
async def case_act(
    case_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Apply an action at the version the page showed; a stale page shows the other change."""
    require_roles(actor, *ACTING)
    form = await request.form()
    action = str(form.get("action") or "")
    try:
        version = int(str(form.get("version") or "0"))
    except ValueError:
        version = 0
    try:
        body = ActionIn(
            action=action,
            version=max(version, 1),
            reason=str(form.get("reason") or "") or None,
            missing_materials=[str(m) for m in form.getlist("missing_materials")] or None,
            to_unit=str(form.get("to_unit") or "") or None,
        )
        with runtime.db.uow() as uow:
            service.act(uow, runtime=runtime, actor=actor, case_no=case_no, request=body)
        return RedirectResponse(f"/cases/{case_no}?done={action}", status_code=303)
    except Conflict:
        return _case_page(
            request,
            runtime,
            actor,
            case_no,
            status_code=409,
            message_kind="warn",
            message=_(
                "Someone else changed this case while you were looking at it. "
                "This is its current state; nothing of yours was saved."
            ),
        )
    except ValidationError as exc:
        failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        return _case_page(
            request,
            runtime,
            actor,
            case_no,
            status_code=422,
            message=error_message(failure),
            errors=field_errors(failure),
            failed_action=action,
        )
    except ActionNotAllowed as exc:
        detail = (
            _("This unit may not complete this item: forward the case.")
            if (exc.data.get("must_forward"))
            else _("This action is not allowed now.")
        )
        return _case_page(
            request, runtime, actor, case_no, status_code=422, message=detail, failed_action=action
        )
    except (ValidationFailed, Forbidden, NotFound) as exc:
        errors = field_errors(exc) if isinstance(exc, ValidationFailed) else {}
        status = 422 if isinstance(exc, ValidationFailed) else 403
        msg = error_message(exc) if errors else _("You may not do this to this case.")
        return _case_page(
            request,
            runtime,
            actor,
            case_no,
            status_code=status,
            message=msg,
            errors=errors,
            failed_action=action,
        )


@router.post("/cases/{case_no}/reveal-id")
def reveal_id(
    case_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """Show the full ID number (roles allowed only; the read is audited)."""
    try:
        with runtime.db.uow() as uow:
            number = service.reveal_id_number(uow, actor=actor, case_no=case_no)
    except (Forbidden, NotFound):
        return HTMLResponse(
            f'<span class="field-error">{_("Not allowed.")}</span>', status_code=403
        )
    return render(request, "cases/_fullid.html", {"number": number})
