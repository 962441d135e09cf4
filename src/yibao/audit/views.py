"""The auditor's workspace (审计管理员): search the trail, read one record, check the chain,
export a period for archiving. Only the ``auditor`` role opens these pages; the JSON API of
the same name (audit/api.py) does the work.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.accounts.rules import Actor, Role
from yibao.audit import api, queries
from yibao.errors import DomainError, NotFound, ValidationFailed
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import CsrfDep, PageActor, error_message, field_errors, render, require_roles

router = APIRouter(include_in_schema=False)

RESULT_LABELS = {"ok": "Succeeded", "denied": "Denied", "failed": "Failed"}
DONE = {"checkpoint": "A checkpoint of the chain's head was signed."}


def _auditor(actor: Actor) -> Actor:
    require_roles(actor, Role.AUDITOR)
    return actor


@router.get("/audit")
def search_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """The trail, newest first, with filters and a link to the next page."""
    _auditor(actor)
    params = request.query_params
    ctx: dict[str, Any] = {
        "form": {k: params.get(k, "") for k in (*queries.MAX_LENGTH, "result", "from", "to")},
        "results": RESULT_LABELS,
        "items": [],
        "next_query": None,
        "errors": {},
        "message": None,
    }
    try:
        with runtime.db.session() as session:
            f, page = api.search(session, runtime, params)
            ctx["items"] = [api.record_dict(r, runtime.tz) for r in page.items]
    except ValidationFailed as exc:
        ctx["errors"], ctx["message"] = field_errors(exc), error_message(exc)
        return render(request, "audit/search.html", ctx, status_code=422)
    if page.next_cursor:
        ctx["next_query"] = {**f.query_items(), "cursor": page.next_cursor}
    ctx["first_page"] = f.cursor is None
    ctx["first_query"] = f.query_items()
    return render(request, "audit/search.html", ctx)


@router.get("/audit/chain")
def chain_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """The head of the chain, its latest checkpoints and the verify button."""
    _auditor(actor)
    return _chain(request, runtime, done=request.query_params.get("done"))


def _chain(
    request: Request,
    runtime: RuntimeDep,
    *,
    report: dict[str, Any] | None = None,
    done: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with runtime.db.session() as session:
        status = api.chain_status(session, runtime)
    return render(
        request,
        "audit/chain.html",
        {
            "status": status,
            "report": report,
            "done": _(DONE[done]) if done in DONE else None,
            "message": message,
        },
        status_code=status_code,
    )


@router.post("/audit/chain/verify")
def verify_page(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """Verify the whole chain now and show the report (audited)."""
    _auditor(actor)
    report = api.run_verify(runtime, actor)
    return _chain(request, runtime, report=report)


@router.post("/audit/chain/checkpoint", response_model=None)
def checkpoint_page(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Sign the chain's head now (audited)."""
    _auditor(actor)
    try:
        api.run_checkpoint(runtime, actor)
    except DomainError as exc:
        return _chain(request, runtime, message=error_message(exc), status_code=422)
    return RedirectResponse("/audit/chain?done=checkpoint", status_code=303)


def _export_form(
    request: Request,
    runtime: RuntimeDep,
    *,
    form: dict[str, str] | None = None,
    exc: DomainError | None = None,
) -> HTMLResponse:
    today = runtime.today()
    return render(
        request,
        "audit/export.html",
        {
            "form": form
            or {"from": today.replace(day=1).isoformat(), "to": today.isoformat(), "format": "csv"},
            "errors": field_errors(exc) if exc else {},
            "message": error_message(exc) if exc else None,
        },
        status_code=422 if exc else 200,
    )


@router.get("/audit/export")
def export_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """The form to download or archive a period."""
    _auditor(actor)
    return _export_form(request, runtime)


@router.get("/audit/export/download", response_model=None)
def export_download(request: Request, runtime: RuntimeDep, actor: PageActor) -> Response:
    """The period as a file (audited); a bad date shows the form again with the field marked."""
    _auditor(actor)
    params = request.query_params
    try:
        return api.export_response(runtime, actor, params)
    except ValidationFailed as exc:
        return _export_form(request, runtime, form=_form(params), exc=exc)


def _form(params: Any) -> dict[str, str]:
    return {k: str(params.get(k, ""))[:40] for k in ("from", "to", "format")}


@router.post("/audit/archive", response_model=None)
async def archive_page(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """The period as a file whose SHA-256 is registered as the archive of its records."""
    _auditor(actor)
    form = await request.form()
    params = {k: str(form.get(k) or "") for k in ("from", "to", "format")}
    try:
        return await _in_thread(runtime, actor, params)
    except ValidationFailed as exc:
        return _export_form(request, runtime, form=_form(params), exc=exc)


async def _in_thread(runtime: RuntimeDep, actor: Actor, params: dict[str, str]) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(api.export_response, runtime, actor, params, archive=True)


@router.get("/audit/{record_id}")
def record_page(
    request: Request, record_id: str, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One record: every field, the detail pretty-printed, its hashes, neighbours and the
    other records of its request."""
    _auditor(actor)
    try:
        with runtime.db.session() as session:
            rec = api.detail_dict(session, runtime, api.record_id_of(record_id))
    except NotFound:
        return render(request, "error.html", {"message": _("Not found")}, status_code=404)
    rec["detail_pretty"] = json.dumps(rec["detail"], ensure_ascii=False, indent=2, sort_keys=True)
    return render(request, "audit/record.html", {"r": rec, "results": RESULT_LABELS})
