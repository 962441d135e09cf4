"""HTML pages of disputes: the list (with the form to open one) and one dispute with sessions."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.cases.models import Case
from yibao.cases.panels import register
from yibao.disputes import rules, service
from yibao.disputes.rules import Action, DisputeState, Party
from yibao.disputes.service import (
    DisputeActionIn,
    DisputeFilter,
    DisputeIn,
    RepresentativeIn,
    SessionIn,
)
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
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
EVENT_LABELS = {"open": "Opened", "session": "Mediation session"}


def _zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def _parties() -> list[tuple[str, str]]:
    zh = _zh()
    return [(p.value, rules.PARTY_LABELS_ZH[p] if zh else rules.PARTY_LABELS_EN[p]) for p in Party]


def _choices(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    zh = _zh()
    ref = runtime.reference()
    return {
        "states": [
            (s.value, rules.STATE_LABELS_ZH[s] if zh else rules.STATE_LABELS_EN[s])
            for s in DisputeState
        ],
        "stations": sorted(ref.unit_names.items()) if actor.agency_wide else [],
        "parties": _parties(),
        "can_open": rules.may_open(actor.role.value, actor.unit),
        "default_limit": service.limit_days(ref),
    }


def _not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": _("Not found"), "message": _("No such dispute that you may see.")},
        status_code=404,
    )


def _flat(errors: dict[str, str]) -> dict[str, str]:
    """representatives[2].phone → patient_rep_phone (the form's field names)."""
    order = [p.value for p in Party]
    out: dict[str, str] = {}
    for field, msg in errors.items():
        if field.startswith("representatives[") and "]." in field:
            index = int(field[len("representatives[") : field.index("]")])
            name = field.split("].", 1)[1]
            party = order[index] if index < len(order) else "hospital"
            out.setdefault(f"{party}_rep_{name}", msg)
        else:
            out.setdefault(field, msg)
    return out


# ---------------------------------------------------------------- the list


def _list_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    params = request.query_params
    f = DisputeFilter(
        state=params.get("state") or None,
        station=params.get("station") or None,
        overdue=params.get("overdue") == "1",
        q=(params.get("q") or "").strip()[:41] or None,
    )
    filter_errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    next_cursor = None
    try:
        with runtime.db.session() as session:
            found, next_cursor = service.list_disputes(
                session,
                runtime=runtime,
                actor=actor,
                filters=f,
                cursor=params.get("cursor") or None,
            )
            ref, today = runtime.reference(), runtime.today()
            rows = [service.dispute_dict(d, ref, today, actor) for d in found]
    except ValidationFailed as exc:
        filter_errors = field_errors(exc)
        status_code = 422
    query = {k: v for k, v in params.items() if k != "cursor" and v}
    return render(
        request,
        "disputes/index.html",
        {
            **_choices(runtime, actor),
            "rows": rows,
            "next_cursor": next_cursor,
            "query": query,
            "filters": f,
            "filter_errors": filter_errors,
            "values": values or {"case_no": (params.get("case_no") or "")[:20]},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/disputes")
def disputes_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """Disputes the person may see, newest first, with the traffic light."""
    require_roles(actor, *READERS)
    return _list_page(request, runtime, actor)


@router.post("/disputes/new")
async def open_dispute(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Open a dispute with a representative of each party."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
    form = await request.form()
    keys = ["subject", "description", "hospital_name", "patient_name", "case_no", "limit_days"]
    for p in Party:
        keys += [f"{p.value}_rep_name", f"{p.value}_rep_title", f"{p.value}_rep_phone"]
    values = {k: str(form.get(k) or "").strip() for k in keys}
    errors: dict[str, str] = {}
    failure: DomainError | None = None
    limit = values["limit_days"]
    if limit and not limit.isdigit():
        errors["limit_days"] = _("A whole number.")
    if not errors:
        try:
            body = DisputeIn(
                subject=values["subject"],
                description=values["description"] or None,
                hospital_name=values["hospital_name"],
                patient_name=values["patient_name"],
                case_no=values["case_no"] or None,
                limit_days=int(limit) if limit else None,
                representatives=[
                    RepresentativeIn(
                        party=p.value,
                        name=values[f"{p.value}_rep_name"],
                        title=values[f"{p.value}_rep_title"] or None,
                        phone=values[f"{p.value}_rep_phone"] or None,
                    )
                    for p in Party
                ],
            )
            with runtime.db.uow() as uow:
                dispute = service.open_dispute(uow, runtime=runtime, actor=actor, request=body)
            return RedirectResponse(f"/disputes/{dispute.id}?done=opened", status_code=303)
        except ValidationError as exc:
            failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        except ValidationFailed as exc:
            failure = exc
        except Forbidden:
            raise PageForbidden from None
    if failure is not None:
        errors = _flat(field_errors(failure))
    return _list_page(
        request,
        runtime,
        actor,
        values=values,
        errors=errors,
        message=error_message(failure) if failure else _("Please correct the marked fields."),
        status_code=422,
    )


# ---------------------------------------------------------------- one dispute


def _dispute_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    dispute_id: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    message_kind: str = "error",
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    try:
        with runtime.db.session() as session:
            view = service.get_dispute(session, actor=actor, dispute_id=dispute_id)
    except NotFound:
        return _not_found(request)
    except Forbidden:
        raise PageForbidden from None
    ref, today = runtime.reference(), runtime.today()
    d = service.full_dict(view, ref, today, actor)
    zh = _zh()
    d["state_text"] = d["state_label"] if zh else d["state_label_en"]
    labels = dict(_parties())
    actions = [
        (a, rules.ACTION_LABELS_ZH[Action(a)] if zh else rules.ACTION_LABELS_EN[Action(a)])
        for a in d["allowed_actions"]
    ]
    for e in d["events"]:
        if e["action"] in EVENT_LABELS:
            e["label"] = _(EVENT_LABELS[e["action"]])
        else:
            act = Action(e["action"])
            e["label"] = rules.ACTION_LABELS_ZH[act] if zh else rules.ACTION_LABELS_EN[act]
    return render(
        request,
        "disputes/dispute.html",
        {
            "d": d,
            "party_labels": labels,
            "parties": _parties(),
            "actions": actions,
            "message": message,
            "message_kind": message_kind,
            "errors": errors or {},
            "failed": failed,
            "values": values or {"session_date": today.isoformat()},
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/disputes/{dispute_id}")
def dispute_page(
    dispute_id: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One dispute: the parties, the mediation sessions, the outcome and the timeline."""
    require_roles(actor, *READERS)
    return _dispute_page(request, runtime, actor, dispute_id)


@router.post("/disputes/{dispute_id}/act")
async def act(
    dispute_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """mediate, agree, escalate or withdraw."""
    require_roles(actor, *READERS)
    form = await request.form()
    action = str(form.get("action") or "")
    raw_version = str(form.get("version") or "")
    try:
        body = DisputeActionIn(
            action=action,
            version=int(raw_version) if raw_version.isdigit() else 1,
            note=str(form.get("note") or "") or None,
            terms=str(form.get("terms") or "") or None,
            escalated_to=str(form.get("escalated_to") or "") or None,
            withdrawn_by=str(form.get("withdrawn_by") or "") or None,
        )
        with runtime.db.uow() as uow:
            service.act(uow, runtime=runtime, actor=actor, dispute_id=dispute_id, request=body)
        return RedirectResponse(f"/disputes/{dispute_id}?done={body.action}", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
    except (ValidationFailed, ActionNotAllowed) as exc:
        failure = exc
    except Conflict:
        return _conflict(request, runtime, actor, dispute_id)
    except NotFound:
        return _not_found(request)
    except Forbidden:
        raise PageForbidden from None
    return _dispute_page(
        request,
        runtime,
        actor,
        dispute_id,
        status_code=422,
        message=error_message(failure),
        errors=field_errors(failure),
        failed=action,
    )


def _conflict(request: Request, runtime: Runtime, actor: Actor, dispute_id: str) -> HTMLResponse:
    return _dispute_page(
        request,
        runtime,
        actor,
        dispute_id,
        status_code=409,
        message_kind="warn",
        message=_(
            "Someone else changed this dispute while you were looking at it. "
            "This is its current state; nothing of yours was saved."
        ),
    )


@router.post("/disputes/{dispute_id}/session")
async def record_session(
    dispute_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Record a mediation session: who took part, each party's statement, the mediator's notes."""
    require_roles(actor, *READERS)
    form = await request.form()
    present = [str(v) for v in form.getlist("parties_present")]
    values: dict[str, Any] = {
        "session_date": str(form.get("session_date") or "").strip(),
        "mediator": str(form.get("mediator") or "").strip(),
        "mediator_notes": str(form.get("mediator_notes") or "").strip(),
        "parties_present": present,
    }
    statements = {}
    for p in Party:
        text = str(form.get(f"statement_{p.value}") or "").strip()
        values[f"statement_{p.value}"] = text
        if text:
            statements[p.value] = text
    errors: dict[str, str] = {}
    day: date | None = None
    try:
        day = date.fromisoformat(values["session_date"])
    except ValueError:
        errors["session_date"] = _("Not a date (YYYY-MM-DD).")
    failure: DomainError | None = None
    if day is not None:
        try:
            body = SessionIn(
                session_date=day,
                mediator=values["mediator"],
                parties_present=present[:3],
                mediator_notes=values["mediator_notes"] or None,
                statements=statements,
            )
            with runtime.db.uow() as uow:
                service.record_session(
                    uow, runtime=runtime, actor=actor, dispute_id=dispute_id, request=body
                )
            return RedirectResponse(f"/disputes/{dispute_id}?done=session", status_code=303)
        except ValidationError as exc:
            failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        except ValidationFailed as exc:
            failure = exc
        except Conflict:
            return _conflict(request, runtime, actor, dispute_id)
        except NotFound:
            return _not_found(request)
        except Forbidden:
            raise PageForbidden from None
    if failure is not None:
        errors = {
            k.replace("statements.", "statement_"): v for k, v in field_errors(failure).items()
        }
    message = error_message(failure) if failure else _("Please correct the marked fields.")
    if set(errors) == {"state"}:
        message = errors["state"]
    return _dispute_page(
        request,
        runtime,
        actor,
        dispute_id,
        status_code=422,
        message=message,
        errors=errors,
        failed="session",
        values=values,
    )


# ---------------------------------------------------------------- the case page


@register
def complaint_panel(
    session: Session, runtime: Runtime, actor: Actor, case: Case
) -> tuple[str, dict[str, Any]] | None:
    """On a complaint case: the disputes opened from it, and a way to open one."""
    if case.service_code != rules.SERVICE_CODE or actor.role not in READERS:
        return None
    found = service.disputes_of_case(session, actor=actor, case_id=case.id)
    ref, today = runtime.reference(), runtime.today()
    return (
        "disputes/_panel.html",
        {
            "disputes": [service.dispute_dict(d, ref, today, actor) for d in found],
            "case_no": case.case_no,
            "can_open": rules.may_open(actor.role.value, actor.unit),
        },
    )
