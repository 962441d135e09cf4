"""The bureau officer's transfer board and the page of one transfer."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.accounts.rules import Role
from yibao.errors import ActionNotAllowed, Conflict, DomainError, NotFound, ValidationFailed
from yibao.stations.models import Agency
from yibao.transfers import service
from yibao.transfers.api import message_dict, outbox_dict, transfer_dict
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import CsrfDep, PageActor, error_message, field_errors, render, require_roles

router = APIRouter(include_in_schema=False)

MESSAGE_LABELS = {
    "transfer_request": "申请转移（转出地受理）",
    "contact_letter": "联系函",
    "eligibility": "审核结果",
    "info_table": "参保信息表",
    "funds_remitted": "资金划转",
    "discrepancy": "金额不符",
    "correction": "更正",
    "transfer_completed": "接续完成",
    "reminder": "催办",
    "withdrawal": "撤回",
}


def _agency_names(runtime: Any) -> dict[str, str]:
    with runtime.db.session() as s:
        return {a.code: a.region_zh or a.name_zh for a in s.query(Agency)}


@router.get("/transfers")
def board(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """Inbound and outbound transfers by counterpart, step and deadline; overdue first."""
    require_roles(actor, Role.BUREAU_OFFICER, Role.SUPERVISOR)
    with runtime.db.session() as s:
        rows = [
            transfer_dict(t, runtime)
            for t in service.list_transfers(s, runtime=runtime, actor=actor)
        ]
        dead = [outbox_dict(o) for o in service.dead_letters(s, runtime=runtime, actor=actor)]
    open_rows = [r for r in rows if r["state"] not in ("completed", "refused", "withdrawn")]
    open_rows.sort(key=lambda r: (not r["overdue"], r["step_due"] or "9999"))
    closed = [r for r in rows if r not in open_rows][:50]
    return render(
        request,
        "transfers/board.html",
        {
            "inbound": [r for r in open_rows if r["role"] == "in"],
            "outbound": [r for r in open_rows if r["role"] == "out"],
            "closed": closed,
            "dead": dead,
            "agencies": _agency_names(runtime),
            "federated": runtime.federation is not None,
            "peers": sorted(runtime.federation.peers) if runtime.federation else [],
            "done": request.query_params.get("done"),
            "labels": MESSAGE_LABELS,
        },
    )


def _detail(
    request: Request,
    runtime: Any,
    actor: Any,
    transfer_id: uuid.UUID,
    *,
    status_code: int = 200,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
) -> HTMLResponse:
    with runtime.db.session() as s:
        try:
            t = service.get_transfer(s, runtime=runtime, actor=actor, transfer_id=transfer_id)
        except NotFound:
            return render(
                request, "error.html", {"message": _("No such transfer.")}, status_code=404
            )
        view = transfer_dict(t, runtime)
        log = [
            message_dict(m)
            for m in service.messages(s, runtime=runtime, actor=actor, transfer_id=transfer_id)
        ]
    return render(
        request,
        "transfers/detail.html",
        {
            "t": view,
            "log": log,
            "agencies": _agency_names(runtime),
            "labels": MESSAGE_LABELS,
            "message": message,
            "errors": errors or {},
            "failed": failed,
            "can_act": actor.role == Role.BUREAU_OFFICER,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/transfers/{transfer_id}")
def detail(
    transfer_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One transfer: both sides' states, deadlines, the message log and the next step."""
    require_roles(actor, Role.BUREAU_OFFICER, Role.SUPERVISOR)
    return _detail(request, runtime, actor, transfer_id)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _yuan_to_fen(value: Any) -> int | None:
    text = str(value or "").strip().replace(",", "")
    if not text:
        return None
    try:
        from decimal import Decimal, InvalidOperation

        amount = Decimal(text)
    except InvalidOperation:
        return -1
    return int((amount * 100).to_integral_value())


@router.post("/transfers/{transfer_id}/step")
async def step(
    transfer_id: uuid.UUID, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Take the next step from the page's form (amounts typed in yuan, kept in fen)."""
    require_roles(actor, Role.BUREAU_OFFICER)
    form = await request.form()
    kind = str(form.get("type") or "")
    body: dict[str, Any] = {}
    if kind == "eligibility":
        body["accepted"] = form.get("accepted") == "yes"
        reasons = [r.strip() for r in str(form.get("reasons") or "").splitlines() if r.strip()]
        if reasons:
            body["reasons"] = reasons
    elif kind in ("info_table", "correction"):
        periods = []
        for line in str(form.get("periods") or "").splitlines():
            parts = line.replace("，", ",").split(",")
            if len(parts) == 3:
                kind_text = parts[2].strip()
                periods.append(
                    {
                        "from": parts[0].strip(),
                        "to": parts[1].strip(),
                        "insurance_type": {"职工": "employee", "居民": "resident"}.get(
                            kind_text, kind_text
                        ),
                    }
                )
            elif line.strip():
                periods.append({"from": line.strip(), "to": "", "insurance_type": ""})
        if periods or kind == "info_table":
            body["periods"] = periods
        fen = _yuan_to_fen(form.get("balance"))
        if fen is not None or kind == "info_table":
            body["balance_fen"] = fen
        extra = _yuan_to_fen(form.get("additional"))
        if extra is not None:
            body["additional_fen"] = extra
    elif kind == "funds_remitted":
        body = {
            "amount_fen": _yuan_to_fen(form.get("amount")),
            "reference": str(form.get("reference") or "").strip(),
        }
    elif kind == "transfer_completed":
        body = {
            "credited_fen": _yuan_to_fen(form.get("credited")),
            "periods_recorded": _int(form.get("periods_recorded")),
        }
    elif kind == "discrepancy":
        body = {
            "expected_fen": _yuan_to_fen(form.get("expected")),
            "remitted_fen": _yuan_to_fen(form.get("received")),
        }
    elif kind in ("reminder", "withdrawal"):
        body = (
            {"reason": str(form.get("reason") or "").strip()}
            if kind == "withdrawal"
            else {"note": str(form.get("reason") or "").strip()}
        )
    version = _int(form.get("version")) or 0
    try:
        with runtime.db.uow() as uow:
            service.send(
                uow,
                runtime=runtime,
                actor=actor,
                transfer_id=transfer_id,
                mtype=kind,
                version=version,
                body=body,
            )
        runtime.on_outbox()
        return RedirectResponse(f"/transfers/{transfer_id}?done={kind}", status_code=303)
    except Conflict:
        return _detail(
            request,
            runtime,
            actor,
            transfer_id,
            status_code=409,
            message=_(
                "The transfer changed meanwhile (a message arrived). "
                "This is its current state; nothing of yours was sent."
            ),
        )
    except (ValidationFailed, ActionNotAllowed) as exc:
        return _detail(
            request,
            runtime,
            actor,
            transfer_id,
            status_code=422,
            message=error_message(exc),
            errors=field_errors(exc),
            failed=kind,
        )
    except DomainError as exc:
        return _detail(
            request, runtime, actor, transfer_id, status_code=403, message=error_message(exc)
        )


@router.post("/transfers/dead-letters/{outbox_id}/retry")
def retry(outbox_id: int, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep) -> Response:
    """Send a dead letter again."""
    require_roles(actor, Role.BUREAU_OFFICER)
    with runtime.db.uow() as uow:
        service.retry(uow, runtime=runtime, actor=actor, outbox_id=outbox_id)
    runtime.on_outbox()
    return RedirectResponse("/transfers?done=retry", status_code=303)
