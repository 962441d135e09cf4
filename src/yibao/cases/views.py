"""HTML pages of cases: the queue (待办), the lists and the case page, over the use cases.

The intake page (受理) is ``cases/intake_views.py``; its router is included here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from yibao.accounts.rules import FULL_ID_ROLES, Actor, Role
from yibao.cases import intake_views, labels, lifecycle, panels, present, queries, service
from yibao.cases.labels import CHANNEL_LABELS, KIND_LABELS, action_labels, state_labels
from yibao.cases.queries import CaseFilter, Order
from yibao.cases.schemas import CHANNELS, ActionIn
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
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
router.include_router(intake_views.router)
labels.register_template_filters()

PAGE_SIZE = 30
ACTING = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
__all__ = ["CHANNEL_LABELS", "KIND_LABELS", "router"]


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
        "states": list(state_labels().items()),
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
            "action_labels": action_labels(),
            "state_labels": state_labels(),
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
            "unit_names": ref.unit_names,
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


@router.post("/cases/{case_no}/reveal-phone")
def reveal_phone(
    case_no: str,
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    _csrf: CsrfDep,
    reason: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """显示完整号码: the applicant's full phone to call them (a reason; the read is audited)."""
    try:
        with runtime.db.uow() as uow:
            number = service.reveal_phone(
                uow, actor=actor, case_no=case_no, reason=reason[: service.MAX_REVEAL_REASON + 1]
            )
    except ValidationFailed:
        return HTMLResponse(
            f'<span class="field-error">{_("Say why you need the full number.")}</span>',
            status_code=422,
        )
    except (Forbidden, NotFound):
        return HTMLResponse(
            f'<span class="field-error">{_("Not allowed.")}</span>', status_code=403
        )
    return render(request, "cases/_fullid.html", {"number": number})
