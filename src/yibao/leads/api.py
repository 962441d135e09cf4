"""JSON adapters of leads under /api/v1/leads.

A lead the caller may not see answers 404 everywhere, exactly like an unknown id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile

from yibao.attachments.web import file_response
from yibao.errors import ValidationFailed
from yibao.leads import service
from yibao.leads.service import LeadActionIn, LeadFilter, LeadIn, LeadNoteIn, LeadView
from yibao.runtime import Runtime
from yibao.web.deps import ActorDep, RuntimeDep, UowDep

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])

Code = Annotated[str | None, Query(max_length=30)]


def _view(runtime: Runtime, view: LeadView, actor: Any) -> dict[str, Any]:
    lead = view.lead
    out = service.lead_dict(lead, runtime.reference(), runtime.today(), actor)
    out["events"] = [service.event_dict(e) for e in view.events]
    out["attachments"] = [service.file_dict(lead, f) for f in view.files]
    return out


@router.get("")
def list_leads(
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
    state: Code = None,
    kind: Code = None,
    urgency: Code = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Leads the caller may see (supervisors: all; others: their own), newest first; audited."""
    rows, next_cursor = service.list_leads(
        uow,
        runtime=runtime,
        actor=actor,
        filters=LeadFilter(
            state=state or None, kind=kind or None, urgency=urgency or None, mine=mine
        ),
        limit=limit,
        cursor=cursor or None,
    )
    ref, today = runtime.reference(), runtime.today()
    return {
        "items": [service.lead_dict(r, ref, today, actor) for r in rows],
        "next_cursor": next_cursor,
    }


@router.get("/kinds")
def lead_kinds(actor: ActorDep) -> list[dict[str, str]]:
    """The kinds of leads (reference data)."""
    service.require_reader(actor)
    return [{"code": c, "name_zh": zh, "name_en": en} for c, (zh, en) in service.kinds().items()]


@router.post("", status_code=201)
def raise_lead(
    body: LeadIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Raise a lead at one's hospital station; attach evidence with POST …/attachments."""
    lead = service.raise_lead(uow, runtime=runtime, actor=actor, request=body)
    response.headers["Location"] = f"/api/v1/leads/{lead.id}"
    return service.lead_dict(lead, runtime.reference(), runtime.today(), actor)


@router.get("/{lead_id}")
def get_lead(lead_id: str, runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """One lead with its timeline and evidence files; the read is audited."""
    view = service.read_lead(uow, actor=actor, lead_id=lead_id)
    return _view(runtime, view, actor)


@router.post("/{lead_id}/actions")
def act(
    lead_id: str, body: LeadActionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """A supervisor's step: verify, intervene (actions_taken), confirm (amount_recovered in
    yuan) or dismiss, each with a note; 409 on a stale version, 422 on a step the table refuses."""
    lead = service.act(uow, runtime=runtime, actor=actor, lead_id=lead_id, request=body)
    return service.lead_dict(lead, runtime.reference(), runtime.today(), actor)


@router.post("/{lead_id}/notes", status_code=201)
def add_note(
    lead_id: str, body: LeadNoteIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Add a note to an open lead (its author or a supervisor)."""
    lead = service.add_note(uow, runtime=runtime, actor=actor, lead_id=lead_id, request=body)
    return service.lead_dict(lead, runtime.reference(), runtime.today(), actor)


@router.post("/{lead_id}/attachments", status_code=201)
async def add_evidence(
    lead_id: str,
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
    file: Annotated[UploadFile | None, File(description="JPEG, PNG or PDF")] = None,
) -> dict[str, Any]:
    """Attach one evidence file (multipart field ``file``) to an open lead."""
    if file is None:
        raise ValidationFailed.single("file", "choose a file", "请选择文件")
    data = await file.read()
    att = service.add_evidence(
        uow,
        runtime=runtime,
        actor=actor,
        lead_id=lead_id,
        filename=file.filename,
        content_type=file.content_type,
        data=data,
    )
    return {
        "id": str(att.id),
        "filename": att.filename,
        "content_type": att.content_type,
        "size": att.size,
        "url": f"/api/v1/leads/{lead_id}/attachments/{att.id}",
    }


@router.get("/{lead_id}/attachments/{attachment_id}")
def download_evidence(lead_id: str, attachment_id: str, actor: ActorDep, uow: UowDep) -> Response:
    """One evidence file of a lead the caller may see; the download is audited."""
    att = service.open_evidence(uow, actor=actor, lead_id=lead_id, attachment_id=attachment_id)
    return file_response(att)


@router.post("/{lead_id}/patient/id-number")
def reveal_patient_id(lead_id: str, actor: ActorDep, uow: UowDep) -> dict[str, str]:
    """The patient's full ID number; every read is audited."""
    return {"id_number": service.reveal_patient_id(uow, actor=actor, lead_id=lead_id)}
