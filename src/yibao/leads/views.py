"""HTML pages of supervision leads: the list (with the form to raise one) and one lead.

A lead the person may not see is a plain 404 page, the same as an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from yibao.accounts.rules import Actor, Role
from yibao.attachments.web import file_response
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from yibao.leads import rules, service
from yibao.leads.rules import LeadState, Urgency
from yibao.leads.service import LeadActionIn, LeadFilter, LeadIn, LeadNoteIn
from yibao.runtime import Runtime
from yibao.web import i18n
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

READERS = (Role.CLERK, Role.STATION_MASTER, Role.SUPERVISOR)
EVENT_LABELS = {"raise": "Raised", "note": "Note", "evidence": "Evidence added"}
Q = Annotated[str | None, Query(max_length=30)]


def _zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def _choices(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    zh = _zh()
    ref = runtime.reference()
    return {
        "kinds": [(c, zh_name if zh else en) for c, (zh_name, en) in service.kinds().items()],
        "states": [
            (s.value, rules.STATE_LABELS_ZH[s] if zh else rules.STATE_LABELS_EN[s])
            for s in LeadState
        ],
        "urgencies": [(Urgency.NORMAL.value, _("Normal")), (Urgency.URGENT.value, _("Urgent"))],
        "can_raise": rules.may_raise(actor.role.value, ref.units.get(actor.unit or "")),
        "is_supervisor": actor.role is Role.SUPERVISOR,
        "hospital": rules.hospital_of(ref.unit_names.get(actor.unit or "", "")),
    }


def _not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": _("Not found"), "message": _("No such lead that you may see.")},
        status_code=404,
    )


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
    mine = actor.role is not Role.SUPERVISOR or params.get("mine") == "1"
    f = LeadFilter(
        state=params.get("state") or None,
        kind=params.get("kind") or None,
        urgency=params.get("urgency") or None,
        mine=mine,
    )
    filter_errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    next_cursor = None
    try:
        with runtime.db.uow() as uow:
            leads, next_cursor = service.list_leads(
                uow,
                runtime=runtime,
                actor=actor,
                filters=f,
                cursor=(params.get("cursor") or None),
            )
            ref, today = runtime.reference(), runtime.today()
            rows = [service.lead_dict(x, ref, today, actor) for x in leads]
    except ValidationFailed as exc:
        filter_errors = field_errors(exc)
        status_code = 422
    query = {k: v for k, v in params.items() if k != "cursor" and v}
    return render(
        request,
        "leads/index.html",
        {
            **_choices(runtime, actor),
            "rows": rows,
            "next_cursor": next_cursor,
            "query": query,
            "filters": {"state": f.state, "kind": f.kind, "urgency": f.urgency, "mine": mine},
            "filter_errors": filter_errors,
            "values": values or {"urgency": "normal"},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/leads")
def leads_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """Supervisors: every lead, with filters. Station staff: their own leads and the form."""
    require_roles(actor, *READERS)
    return _list_page(request, runtime, actor)


@router.post("/leads/new")
async def raise_lead(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Raise a lead with its evidence files (more can be attached on the lead's page later)."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER)
    form = await request.form()
    evidence = [
        (upload.filename, upload.content_type, await upload.read())
        for upload in form.getlist("evidence")
        if isinstance(upload, UploadFile) and upload.filename
    ]
    values = {
        k: str(form.get(k) or "").strip()
        for k in ("kind", "urgency", "description", "patient_id_number")
    }
    try:
        body = LeadIn(
            kind=values["kind"],
            urgency=values["urgency"] or "normal",
            description=values["description"],
            patient_id_number=values["patient_id_number"] or None,
        )
        with runtime.db.uow() as uow:
            lead = service.raise_lead(
                uow, runtime=runtime, actor=actor, request=body, evidence=evidence
            )
        return RedirectResponse(f"/leads/{lead.id}?done=raised", status_code=303)
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
    except ValidationFailed as exc:
        failure = exc
    except Forbidden:
        return render(
            request,
            "error.html",
            {"message": _("Only the staff of a hospital station raise supervision leads.")},
            status_code=403,
        )
    return _list_page(
        request,
        runtime,
        actor,
        values=values,
        errors=field_errors(failure),
        message=error_message(failure),
        status_code=422,
    )


# ---------------------------------------------------------------- one lead


def _lead_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    lead_id: str,
    *,
    status_code: int = 200,
    message: str | None = None,
    message_kind: str = "error",
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    full_id: str | None = None,
) -> HTMLResponse:
    try:
        with runtime.db.uow() as uow:
            view = service.read_lead(uow, actor=actor, lead_id=lead_id)
    except NotFound:
        return _not_found(request)
    ref, today = runtime.reference(), runtime.today()
    lead = service.lead_dict(view.lead, ref, today, actor)
    zh = _zh()
    lead["state_text"] = lead["state_label"] if zh else lead["state_label_en"]
    lead["kind_text"] = lead["kind_label"] if zh else lead["kind_label_en"]
    actions = [
        (
            a,
            rules.ACTION_LABELS_ZH[rules.Action(a)]
            if zh
            else rules.ACTION_LABELS_EN[rules.Action(a)],
        )
        for a in lead["allowed_actions"]
    ]
    events = []
    for e in view.events:
        row = service.event_dict(e)
        if e.action in EVENT_LABELS:
            row["label"] = _(EVENT_LABELS[e.action])
        else:
            act = rules.Action(e.action)
            row["label"] = rules.ACTION_LABELS_ZH[act] if zh else rules.ACTION_LABELS_EN[act]
        amount = row["detail"].get("amount_recovered_fen")
        row["amount"] = rules.format_fen(amount) if amount is not None else None
        events.append(row)
    return render(
        request,
        "leads/lead.html",
        {
            "lead": lead,
            "events": events,
            "files": [
                service.file_dict(view.lead, f) | {"is_image": f.is_image} for f in view.files
            ],
            "actions": actions,
            "message": message,
            "message_kind": message_kind,
            "errors": errors or {},
            "failed": failed,
            "full_id": full_id,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/leads/{lead_id}")
def lead_page(
    lead_id: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One lead: what was seen, the evidence, the timeline, and the supervisor's steps."""
    if actor.role not in READERS:
        return _not_found(request)
    return _lead_page(request, runtime, actor, lead_id)


async def _write(
    request: Request, runtime: Runtime, actor: Actor, lead_id: str, what: str
) -> Response:
    if actor.role not in READERS:
        return _not_found(request)
    form = await request.form()
    try:
        with runtime.db.uow() as uow:
            if what == "act":
                raw_version = str(form.get("version") or "")
                body = LeadActionIn(
                    action=str(form.get("action") or ""),
                    version=int(raw_version) if raw_version.isdigit() else 1,
                    note=str(form.get("note") or "") or None,
                    actions_taken=str(form.get("actions_taken") or "") or None,
                    amount_recovered=str(form.get("amount_recovered") or "") or None,
                )
                service.act(uow, runtime=runtime, actor=actor, lead_id=lead_id, request=body)
                what = body.action
            elif what == "note":
                service.add_note(
                    uow,
                    runtime=runtime,
                    actor=actor,
                    lead_id=lead_id,
                    request=LeadNoteIn(note=str(form.get("note") or "")),
                )
            else:
                upload = form.get("file")
                if not isinstance(upload, UploadFile) or not upload.filename:
                    raise ValidationFailed.single("file", "choose a file", "请选择文件")
                service.add_evidence(
                    uow,
                    runtime=runtime,
                    actor=actor,
                    lead_id=lead_id,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    data=await upload.read(),
                )
        return RedirectResponse(f"/leads/{lead_id}?done={what}", status_code=303)
    except NotFound:
        return _not_found(request)
    except Conflict:
        return _lead_page(
            request,
            runtime,
            actor,
            lead_id,
            status_code=409,
            message_kind="warn",
            message=_(
                "Someone else changed this lead while you were looking at it. "
                "This is its current state; nothing of yours was saved."
            ),
        )
    except ValidationError as exc:
        failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        status = 422
    except (ValidationFailed, ActionNotAllowed) as exc:
        failure, status = exc, 422
    except Forbidden as exc:
        failure, status = exc, 403
    errors = field_errors(failure)
    message = error_message(failure)
    if set(errors) <= {"state", "file"} and errors:
        message = next(iter(errors.values()))
    failed = str(form.get("action") or what) if what == "act" else what
    return _lead_page(
        request,
        runtime,
        actor,
        lead_id,
        status_code=status,
        message=message,
        errors=errors,
        failed=failed,
    )


@router.post("/leads/{lead_id}/act")
async def act(
    lead_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """A supervisor's step (verify, intervene, confirm, dismiss), always with a note."""
    return await _write(request, runtime, actor, lead_id, "act")


@router.post("/leads/{lead_id}/note")
async def add_note(
    lead_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """A note from the author or a supervisor while the lead is open."""
    return await _write(request, runtime, actor, lead_id, "note")


@router.post("/leads/{lead_id}/attachments")
async def add_evidence(
    lead_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Upload one evidence file (JPEG, PNG or PDF) while the lead is open."""
    return await _write(request, runtime, actor, lead_id, "evidence")


@router.get("/leads/{lead_id}/attachments/{attachment_id}")
def evidence_file(
    lead_id: str, attachment_id: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> Response:
    """One evidence file, after the access check; the download is audited."""
    if actor.role not in READERS:
        return _not_found(request)
    try:
        with runtime.db.uow() as uow:
            att = service.open_evidence(
                uow, actor=actor, lead_id=lead_id, attachment_id=attachment_id
            )
    except NotFound:
        return _not_found(request)
    return file_response(att)


@router.post("/leads/{lead_id}/reveal-id")
def reveal_id(
    lead_id: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """Show the patient's full ID number on the page (audited)."""
    if actor.role not in READERS:
        return _not_found(request)
    try:
        with runtime.db.uow() as uow:
            number = service.reveal_patient_id(uow, actor=actor, lead_id=lead_id)
    except NotFound:
        return _not_found(request)
    return _lead_page(request, runtime, actor, lead_id, full_id=number)
