"""The laptop's queue: every offline change is queued in the transaction that makes it.

Kept apart from the rest of the laptop's code so the slices that queue records
(cases, questionnaire responses) import only this, and the laptop's set-up and sync may
import them in turn without a cycle.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.cases.models import Case
from yibao.db import utcnow
from yibao.field import crypto
from yibao.field.models import FieldQueue


def enqueue(session: Session, kind: str, case: Case, payload: dict[str, Any]) -> None:
    """Queue a change for the central node, in the caller's transaction."""
    body = dict(payload)
    if kind == "case":
        applicant = dict(body["applicant"])
        applicant["id_number"] = crypto.encrypt(applicant["id_number"])
        body["applicant"] = applicant
    else:
        # A case taken on this laptop is known centrally by its client id until synced.
        offline = session.scalar(
            select(FieldQueue.id).where(FieldQueue.kind == "case", FieldQueue.client_id == case.id)
        )
        case_id = body.pop("case_id", None)
        # Done now, here: the central node dates the action (and its clock) by this time.
        body["captured_at"] = utcnow().isoformat()
        if offline is not None:
            body.pop("case_no", None)
            body["case_client_id"] = case_id
    session.add(
        FieldQueue(
            client_id=uuid.uuid4() if kind == "action" else case.id,
            kind=kind,
            local_case_no=case.case_no,
            payload=body,
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
    )


def enqueue_record(
    session: Session, *, kind: str, client_id: uuid.UUID, payload: dict[str, Any], label: str = ""
) -> None:
    """Queue a record that is not a case change (a questionnaire response), in the caller's
    transaction; ``client_id`` is its id, so the central node stores it once."""
    session.add(
        FieldQueue(
            client_id=client_id,
            kind=kind,
            local_case_no=label[:20],
            payload=payload,
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
    )


def queued_case(session: Session, case_id: uuid.UUID) -> bool:
    """Whether a case was taken on this laptop (known centrally by its client id until synced)."""
    return (
        session.scalar(
            select(FieldQueue.id).where(FieldQueue.kind == "case", FieldQueue.client_id == case_id)
        )
        is not None
    )
