"""JSON adapters of filings under /api/v1/filings."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from yibao.errors import ValidationFailed
from yibao.filings import divisions, export, service
from yibao.filings.service import CancelIn, ChangeIn, FilingFilter, FilingIn
from yibao.runtime import Runtime
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1/filings", tags=["filings"])

Text = Annotated[str | None, Query(max_length=40)]


class LookupIn(BaseModel):
    """A person's full ID number (sent in the body, never in a URL that gets logged)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(max_length=40)


def _dict(runtime: Runtime, filing: Any, actor: Any = None) -> dict[str, Any]:
    return service.filing_dict(filing, runtime.reference(), runtime.today(), actor)


@router.post("", status_code=201)
def create_filing(
    body: FilingIn,
    response: Response,
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """File on the spot: a completed ``remote_care_filing`` case and the filing, at once."""
    filing = service.create(
        uow, runtime=runtime, actor=actor, request=body, request_key=idempotency_key
    )
    response.headers["Location"] = f"/api/v1/filings/{filing.filing_no}"
    return _dict(runtime, filing, actor)


@router.get("")
def list_filings(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    state: Text = None,
    kind: Text = None,
    province: Text = None,
    station: Text = None,
    expiring: Annotated[bool, Query(description="active, ending within 30 days")] = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """The registry the caller may see, newest first, keyset-paged."""
    rows, next_cursor = service.list_filings(
        session,
        runtime=runtime,
        actor=actor,
        filters=FilingFilter(
            state=state or None,
            kind=kind or None,
            province=province or None,
            station=station or None,
            expiring=expiring,
        ),
        limit=limit,
        cursor=cursor,
    )
    previous = service.with_previous(session, rows)
    items = []
    for f in rows:
        item = _dict(runtime, f)
        item["previous_filing_no"] = previous.get(f.id)
        items.append(item)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/lookup")
def lookup(body: LookupIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Every filing of one person, by the full ID number (any station's); audited."""
    rows = service.lookup(uow, runtime=runtime, actor=actor, id_number=body.id_number)
    return {"items": [_dict(runtime, f, actor) for f in rows]}


@router.get("/destinations")
def destinations() -> dict[str, Any]:
    """Province-level divisions and their prefecture-level cities (GB/T 2260)."""
    table = divisions.load()
    return {
        "release": table.release,
        "provinces": [
            {
                "code": p.code,
                "name": p.name,
                "cities": [{"code": c, "name": n} for c, n in p.cities],
            }
            for p in table.provinces
        ],
    }


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/export",
    response_model=None,
    response_class=Response,
    responses={
        200: {
            "description": "The registry as a download (CSV or XLSX)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def export_registry(
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
    format: Annotated[str, Query(max_length=10, description="csv | xlsx")] = "csv",
) -> Response:
    """The active registry with full ID numbers, for the settlement system (audited)."""
    return export_response(runtime, actor, uow, format)


def export_response(runtime: Runtime, actor: Any, uow: Any, fmt: str) -> Response:
    """The export as a download (shared by the API and the registry page)."""
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.single("format", "csv or xlsx", "格式须为 csv 或 xlsx")
    made = service.export_rows(uow, runtime=runtime, actor=actor, fmt=fmt)
    name = f"filings-{runtime.agency}-{runtime.today():%Y%m%d}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Row-Count": str(made.count),
    }
    if fmt == "csv":  # streamed as it is read: the first bytes leave at once
        return StreamingResponse(
            export.csv_chunks(made.rows), media_type="text/csv; charset=utf-8", headers=headers
        )
    # A zip cannot be streamed before it is complete: build it in a temporary file (flat
    # memory), send it, and remove it after.
    with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as tmp:
        try:
            export.write_xlsx(made.rows, tmp)
        except BaseException:
            os.unlink(tmp.name)
            raise
    return FileResponse(
        tmp.name,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
        background=BackgroundTask(os.unlink, tmp.name),
    )


@router.get("/{filing_no}")
def get_filing(
    filing_no: str,
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
) -> dict[str, Any]:
    """One filing with its chain (the records before and after it), ID number masked."""
    filing = service.get(session, actor=actor, filing_no=filing_no[:30])
    out = _dict(runtime, filing, actor)
    out["chain"] = [
        {
            "filing_no": f.filing_no,
            "action": f.action,
            "state": f.state,
            "start_date": f.start_date.isoformat(),
            "end_date": f.end_date.isoformat() if f.end_date else None,
            "created_at": f.created_at.isoformat(),
        }
        for f in service.chain(session, filing)
    ]
    return out


@router.post("/{filing_no}/change")
def change_filing(
    filing_no: str, body: ChangeIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """New terms for an active filing: a new record; the old one becomes ``changed``."""
    new = service.change(uow, runtime=runtime, actor=actor, filing_no=filing_no[:30], request=body)
    return _dict(runtime, new, actor)


@router.post("/{filing_no}/cancel")
def cancel_filing(
    filing_no: str, body: CancelIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Cancel an active filing: a cancellation record; the old one becomes ``cancelled``."""
    new = service.cancel(uow, runtime=runtime, actor=actor, filing_no=filing_no[:30], request=body)
    return _dict(runtime, new, actor)
