"""Writing audit records inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from yibao.audit.models import AuditRecord
from yibao.db import utcnow


def record(
    session: Session,
    *,
    agency: str,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit record to the current transaction (it commits with the change it records)."""
    session.add(
        AuditRecord(
            agency=agency,
            at=utcnow(),
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            object_type=object_type,
            object_id=object_id,
            ip=ip,
            detail=detail or {},
        )
    )
