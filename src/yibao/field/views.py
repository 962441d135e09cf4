"""Pages of field mode: the laptop's banner and queue, and the bureau's list of laptops."""

from __future__ import annotations

import contextlib
import threading
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.accounts.rules import Role
from yibao.field import central, laptop
from yibao.field.models import FieldQueue
from yibao.web.deps import RuntimeDep
from yibao.web.pages import CsrfDep, PageActor, render, require_roles

router = APIRouter(include_in_schema=False)
_progress = laptop.Progress()


@router.get("/field/status")
def status(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """The laptop's banner: online or not, records waiting, last sync, a running sync's bar."""
    st = laptop.state(runtime.db)
    if st is None:
        return HTMLResponse("")
    return render(
        request,
        "field/_status.html",
        {
            "st": st,
            "online": laptop.central_reachable(st.central_url),
            "counts": laptop.counts(runtime.db),
            "p": _progress,
        },
    )


@router.post("/field/sync")
def start_sync(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """Start a sync in the background; the banner polls its progress."""
    with _progress.lock:
        if not _progress.running:
            _progress.running = True
            _progress.total = _progress.sent = _progress.acked = 0
            _progress.quarantined = _progress.conflicts = 0
            _progress.error = None

            def run() -> None:
                # A failure is kept in the progress and the field state: the banner shows it.
                with contextlib.suppress(laptop.FieldError):
                    laptop.sync_once(runtime, progress=_progress)

            threading.Thread(target=run, name="field-sync", daemon=True).start()
    return status(request, runtime, actor)


@router.get("/field")
def queue_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> Response:
    """On a laptop: every record not yet accepted centrally, with the reason when refused."""
    st = laptop.state(runtime.db)
    if st is None:
        return RedirectResponse("/field/devices", status_code=303)
    from sqlalchemy import select

    with runtime.db.session() as s:
        rows = list(
            s.scalars(
                select(FieldQueue)
                .where(FieldQueue.status != "acked")
                .order_by(FieldQueue.id)
                .limit(500)
            )
        )
    return render(
        request, "field/queue.html", {"st": st, "rows": rows, "counts": laptop.counts(runtime.db)}
    )


@router.get("/field/devices")
def devices_page(request: Request, runtime: RuntimeDep, actor: PageActor) -> HTMLResponse:
    """Central: the laptops (silent for 3 days first) and refused or conflicting records."""
    require_roles(actor, Role.BUREAU_OFFICER, Role.SUPERVISOR, Role.ADMIN, Role.STATION_MASTER)
    with runtime.db.session() as s:
        rows = central.devices(s, runtime=runtime, actor=actor)
        stale = {d.id for d in central.stale(rows, runtime.now())}
        problems = (
            [] if actor.role == Role.ADMIN else central.conflicts(s, runtime=runtime, actor=actor)
        )
    rows.sort(key=lambda d: (d.id not in stale, d.revoked_at is not None, d.username))
    return render(
        request,
        "field/devices.html",
        {
            "rows": rows,
            "stale": stale,
            "problems": problems,
            "can_revoke": actor.role in (Role.ADMIN, Role.BUREAU_OFFICER, Role.SUPERVISOR),
        },
    )


@router.post("/field/devices/{device_id}/revoke")
def revoke(device_id: uuid.UUID, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep) -> Response:
    """Revoke a lost laptop."""
    with runtime.db.uow() as uow:
        central.revoke(uow, runtime=runtime, actor=actor, device_id=device_id)
    return RedirectResponse("/field/devices", status_code=303)
