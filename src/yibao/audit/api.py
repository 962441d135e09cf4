"""The auditor's JSON API: search the trail, one record, the chain's state, verify, export.

Only the ``auditor`` role (审计管理员) may call it (三员分立: the administrator and the case
roles cannot read the trail of their own actions); everyone else gets 403. Verifying, making
a checkpoint and exporting are themselves audited (``audit.verify``, ``audit.checkpoint``,
``audit.export``).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from yibao.accounts.rules import Actor, Role
from yibao.audit import checkpoints, export, queries, retention
from yibao.audit.models import AuditRecord
from yibao.audit.service import record
from yibao.audit.verify import verify_chain
from yibao.errors import FieldError, Forbidden, NotFound, ValidationFailed
from yibao.people.rules import mask_id
from yibao.runtime import Runtime
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

SAME_REQUEST_LIMIT = 50
CHECKPOINTS_SHOWN = 10
# An 18-character resident ID number anywhere in a text (a record's detail should hold none).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def require_auditor(actor: Actor) -> None:
    """Refuse everyone but the auditor (403)."""
    if actor.role != Role.AUDITOR:
        raise Forbidden("only the auditor role may read the audit trail")


# ---------------------------------------------------------------- records


def mask_ids(value: Any) -> Any:
    """The value with every 18-character ID number masked (first 6, last 4), at any depth."""
    if isinstance(value, str):
        return _ID_NUMBER.sub(lambda m: mask_id(m.group(0)), value)
    if isinstance(value, list):
        return [mask_ids(v) for v in value]
    if isinstance(value, dict):
        return {mask_ids(k): mask_ids(v) for k, v in value.items()}
    return value


def _get(rec: AuditRecord, name: str) -> Any:
    return getattr(rec, name, None) if queries.column(name) is not None else None


def record_dict(rec: AuditRecord, tz: ZoneInfo) -> dict[str, Any]:
    """One record with every field (detail with ID numbers masked)."""
    return {
        "id": rec.id,
        "seq": _get(rec, "seq"),
        "agency": rec.agency,
        "at": rec.at.isoformat(),
        "at_local": rec.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
        "actor_id": rec.actor_id,
        "actor_name": rec.actor_name,
        "role": _get(rec, "role"),
        "unit": _get(rec, "unit"),
        "action": rec.action,
        "object_type": rec.object_type,
        "object_id": mask_ids(rec.object_id),
        "result": _get(rec, "result") or "ok",
        "ip": rec.ip,
        "request_id": _get(rec, "request_id"),
        "detail": mask_ids(rec.detail or {}),
        "prev_hash": _get(rec, "prev_hash"),
        "hash": _get(rec, "hash"),
    }


def search(
    session: Session, runtime: Runtime, params: Mapping[str, str]
) -> tuple[queries.AuditFilter, queries.Page]:
    """Validate the parameters (422 naming the field) and run the search."""
    f = queries.parse_filter(params)
    return f, queries.search(session, f, agency=runtime.agency, tz=runtime.tz)


MAX_ID = 2**63 - 1


def record_id_of(text: str) -> int:
    """A record id from a path; anything else (or beyond a BIGINT) is simply not found."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        raise NotFound(f"audit record {text[:30]!r} not found")
    return int(text)


def get_record(session: Session, agency: str, record_id: int) -> AuditRecord:
    """One record of the agency (404 for another agency's or a missing one)."""
    rec = session.get(AuditRecord, record_id)
    if rec is None or rec.agency != agency:
        raise NotFound(f"audit record {record_id} not found")
    return rec


def neighbours(session: Session, rec: AuditRecord) -> tuple[int | None, int | None]:
    """The ids of the records just before and just after ``rec`` in the agency's trail."""
    r = AuditRecord
    prev_id = session.scalar(
        select(r.id).where(r.agency == rec.agency, r.id < rec.id).order_by(r.id.desc()).limit(1)
    )
    next_id = session.scalar(
        select(r.id).where(r.agency == rec.agency, r.id > rec.id).order_by(r.id).limit(1)
    )
    return prev_id, next_id


def same_request(session: Session, rec: AuditRecord) -> list[AuditRecord]:
    """The other records written in the same request (by request id)."""
    col = queries.column("request_id")
    request_id = _get(rec, "request_id")
    if col is None or not request_id:
        return []
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.agency == rec.agency, col == request_id, AuditRecord.id != rec.id)
        .order_by(AuditRecord.id)
        .limit(SAME_REQUEST_LIMIT)
    )
    return list(session.scalars(stmt))


def detail_dict(session: Session, runtime: Runtime, record_id: int) -> dict[str, Any]:
    """One record with its neighbours and the records of its request."""
    rec = get_record(session, runtime.agency, record_id)
    prev_id, next_id = neighbours(session, rec)
    out = record_dict(rec, runtime.tz)
    out["prev_id"], out["next_id"] = prev_id, next_id
    out["same_request"] = [record_dict(o, runtime.tz) for o in same_request(session, rec)]
    return out


# ---------------------------------------------------------------- the chain


def _audit(
    session: Session, actor: Actor, action: str, object_id: str, detail: dict[str, Any]
) -> None:
    record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=action,
        object_type="audit_chain",
        object_id=object_id,
        ip=actor.ip,
        detail=detail,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else None


def checkpoint_dict(cp: Any, tz: ZoneInfo) -> dict[str, Any]:
    """A checkpoint with the state of its two signatures (ours and the partner's)."""
    at = getattr(cp, "at", None)
    partner_at = getattr(cp, "partner_at", None)
    return {
        "id": getattr(cp, "id", None),
        "seq": getattr(cp, "seq", None),
        "head_hash": getattr(cp, "head_hash", None),
        "at": _iso(at),
        "at_local": at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if at else None,
        "key_id": getattr(cp, "key_id", None),
        "signed": bool(getattr(cp, "signature", None)),
        "partner": getattr(cp, "partner", None),
        "partner_signed": bool(getattr(cp, "partner_signature", None)),
        "partner_at": _iso(partner_at),
        "partner_at_local": partner_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        if partner_at
        else None,
    }


def chain_status(session: Session, runtime: Runtime) -> dict[str, Any]:
    """The head of the chain (last seq and hash) and the latest checkpoints."""
    seq = queries.column("seq")
    head_seq = head_hash = None
    head_at = None
    if seq is not None:
        last = session.scalars(
            select(AuditRecord).where(AuditRecord.agency == runtime.agency).order_by(seq.desc())
        ).first()
        if last is not None:
            head_seq, head_hash, head_at = _get(last, "seq"), _get(last, "hash"), last.at
    keys = checkpoints.verification_keys(runtime.settings)
    shown = [
        {
            **checkpoint_dict(cp, runtime.tz),
            "signature_valid": checkpoints.checkpoint_valid(keys, cp),
        }
        for cp in checkpoints.latest_checkpoints(session, runtime.agency, CHECKPOINTS_SHOWN)
    ]
    return {
        "agency": runtime.agency,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "head_at": _iso(head_at),
        "head_at_local": head_at.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M:%S")
        if head_at
        else None,
        "checkpoints": shown,
    }


def run_verify(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    """Verify the whole chain and its checkpoints; the verification is audited."""
    report = verify_chain(
        runtime.db, runtime.agency, keys=checkpoints.verification_keys(runtime.settings)
    ).as_dict()
    with runtime.db.uow() as uow:
        _audit(
            uow.session,
            actor,
            "audit.verify",
            runtime.agency,
            {k: report.get(k) for k in ("ok", "checked", "head_seq", "first_bad_seq", "problem")},
        )
        uow.commit()
    return report


def run_checkpoint(runtime: Runtime, actor: Actor) -> dict[str, Any]:
    """Sign the chain's head now; the checkpoint is audited."""
    cp = checkpoints.make_checkpoint(
        runtime.db,
        runtime.agency,
        checkpoints.node_key(runtime.settings),
        federation=runtime.federation,
    )
    runtime.on_outbox()  # partners countersign it (queued with the checkpoint)
    out = checkpoint_dict(cp, runtime.tz)
    with runtime.db.uow() as uow:
        _audit(
            uow.session,
            actor,
            "audit.checkpoint",
            runtime.agency,
            {"seq": out["seq"], "head_hash": out["head_hash"]},
        )
        uow.commit()
    return out


# ---------------------------------------------------------------- export


def parse_period(params: Mapping[str, str]) -> tuple[Any, Any, str]:
    """from, to (required, local dates) and the format; 422 naming each bad field."""
    errors: list[FieldError] = []
    date_from = queries.parse_date("from", params.get("from"), errors)
    date_to = queries.parse_date("to", params.get("to"), errors)
    for field, raw in (("from", params.get("from")), ("to", params.get("to"))):
        if not (raw or "").strip():
            errors.append(FieldError(field, "required", "必填"))
    if date_from and date_to and date_to < date_from:
        errors.append(FieldError("to", "before the start date", "结束日期早于开始日期"))
    fmt = (params.get("format") or "csv").strip()
    if fmt not in export.FORMATS:
        errors.append(FieldError("format", "csv or xlsx", "格式须为 csv 或 xlsx"))
    if errors:
        raise ValidationFailed(errors)
    return date_from, date_to, fmt


def export_response(
    runtime: Runtime, actor: Actor, params: Mapping[str, str], *, archive: bool = False
) -> Response:
    """The period as a download (API and page); audited, and registered as an archive when
    ``archive`` (the file is then written and hashed before it is sent)."""
    date_from, date_to, fmt = parse_period(params)
    with runtime.db.session() as session:
        p = export.period(session, runtime.agency, runtime.tz, date_from, date_to)
    if archive and p.first is None:
        raise ValidationFailed.single(
            "from", "the period holds no audit records", "该期间没有审计记录"
        )
    name = f"audit-{runtime.agency}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Audit-From-Seq": "" if p.first is None else str(p.first),
        "X-Audit-To-Seq": "" if p.last is None else str(p.last),
        "X-Audit-Count": str(p.count),
    }
    detail: dict[str, Any] = {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "format": fmt,
        "from_seq": p.first,
        "to_seq": p.last,
        "count": p.count,
        "archive": archive,
    }
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
    data = export.rows(runtime.db, runtime.agency, p, runtime.tz)
    if fmt == "csv" and not archive:  # streamed as it is read: the first bytes leave at once
        _record_export(runtime, actor, detail)
        return StreamingResponse(export.csv_chunks(data), media_type=media, headers=headers)
    # A workbook is complete only at its end, and an archive's hash must be known before it is
    # registered: write a temporary file (flat memory), then send it and remove it.
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}", delete=False) as tmp:
        try:
            export.write_file(data, fmt, tmp)
        except BaseException:
            os.unlink(tmp.name)
            raise
    try:
        if archive:
            digest = export.sha256_file(tmp.name)
            detail["sha256"] = digest
            headers["X-Audit-SHA256"] = digest
            _record_export(runtime, actor, detail, archive_of=p, sha256=digest)
        else:
            _record_export(runtime, actor, detail)
    except BaseException:
        os.unlink(tmp.name)
        raise
    return FileResponse(
        tmp.name, media_type=media, headers=headers, background=BackgroundTask(os.unlink, tmp.name)
    )


def _record_export(
    runtime: Runtime,
    actor: Actor,
    detail: dict[str, Any],
    *,
    archive_of: export.Period | None = None,
    sha256: str | None = None,
) -> None:
    with runtime.db.uow() as uow:
        if archive_of and archive_of.first and archive_of.last and sha256:
            retention.register_archive(
                uow.session, runtime.agency, archive_of.first, archive_of.last, sha256
            )
        record(
            uow.session,
            agency=actor.agency,
            actor_id=actor.id,
            actor_name=actor.username,
            action="audit.export",
            object_type="audit_records",
            object_id=f"{detail['from_seq'] or ''}-{detail['to_seq'] or ''}",
            ip=actor.ip,
            detail=detail,
        )
        uow.commit()


# ---------------------------------------------------------------- routes


@router.get("/records")
def list_records(
    request: Request, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """Search the trail, newest first: ``actor`` (name or user id), ``object_type``,
    ``object_id``, ``action`` (a prefix), ``result`` (ok|denied|failed), ``from``/``to``
    (local dates, inclusive), ``request_id``; ``limit`` ≤ 200 and ``cursor`` (next_cursor of
    the previous page)."""
    require_auditor(actor)
    _f, page = search(session, runtime, request.query_params)
    return {
        "items": [record_dict(r, runtime.tz) for r in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/records/{record_id}")
def get_one(
    record_id: str, runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One record: every field, its neighbours (prev_id/next_id) and its request's records."""
    require_auditor(actor)
    return detail_dict(session, runtime, record_id_of(record_id))


@router.get("/chain")
def chain(runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> dict[str, Any]:
    """The chain's head and the latest checkpoints with their signatures' state."""
    require_auditor(actor)
    return chain_status(session, runtime)


@router.post("/verify")
def verify(runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """Recompute every hash of the chain and check every checkpoint (audited)."""
    require_auditor(actor)
    return run_verify(runtime, actor)


@router.post("/checkpoint", status_code=201)
def checkpoint(runtime: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """Sign the chain's head now (audited)."""
    require_auditor(actor)
    return run_checkpoint(runtime, actor)


@router.get("/export", response_model=None)
def export_period(
    request: Request,
    runtime: RuntimeDep,
    actor: ActorDep,
    from_: Annotated[str | None, Query(alias="from", description="first local date")] = None,
    to: Annotated[str | None, Query(description="last local date (inclusive)")] = None,
    format: Annotated[str, Query(max_length=10, description="csv | xlsx")] = "csv",
) -> Response:
    """A period as CSV (streamed, UTF-8 with BOM) or Excel, Chinese headers and every chain
    field; headers X-Audit-From-Seq / X-Audit-To-Seq name the chain positions (audited)."""
    require_auditor(actor)
    return export_response(runtime, actor, request.query_params)


@router.post("/archive", response_model=None)
def archive_period(
    request: Request,
    runtime: RuntimeDep,
    actor: ActorDep,
    from_: Annotated[str | None, Query(alias="from", description="first local date")] = None,
    to: Annotated[str | None, Query(description="last local date (inclusive)")] = None,
    format: Annotated[str, Query(max_length=10, description="csv | xlsx")] = "csv",
) -> Response:
    """As export, and the file's SHA-256 (header X-Audit-SHA256) is registered as the archive
    of its seq range, which a later purge of those records requires."""
    require_auditor(actor)
    return export_response(runtime, actor, request.query_params, archive=True)
