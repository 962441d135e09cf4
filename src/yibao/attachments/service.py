"""Storing and loading attached files. Access is the owning slice's business: it checks first.

Usage from a slice (inside its own unit of work, after its own access check)::

    att = attachments.store(uow.session, agency=..., owner_type="lead", owner_id=str(lead.id),
                            filename=upload.filename, content_type=upload.content_type,
                            data=await upload.read(), actor=actor)
    infos = attachments.list_for(session, agency=..., owner_type="lead", owner_id=str(lead.id))
    att = attachments.load(session, agency=..., attachment_id=..., owner_type="lead",
                           owner_id=str(lead.id))      # NotFound if it is not that record's
    return yibao.attachments.web.file_response(att)

``store`` raises ValidationFailed on the field ``file`` (empty, over 5 MiB, not a JPEG, PNG,
WebP or PDF by its bytes, or more than 20 files on one record) and writes an audit record.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.attachments import rules
from yibao.attachments.models import Attachment
from yibao.audit import service as audit
from yibao.errors import NotFound, ValidationFailed


@dataclass(frozen=True)
class AttachmentInfo:
    """What a page lists of a file: never its bytes."""

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    created_at: datetime

    @property
    def is_image(self) -> bool:
        """Photos are shown as thumbnails, other files as links."""
        return self.content_type.startswith("image/")


def store(
    session: Session,
    *,
    agency: str,
    owner_type: str,
    owner_id: str,
    filename: str | None,
    content_type: str | None,
    data: bytes,
    actor: Actor,
) -> Attachment:
    """Check and add one file to a record, with an audit record; the caller commits."""
    already = session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(
            Attachment.agency == agency,
            Attachment.owner_type == owner_type,
            Attachment.owner_id == owner_id,
        )
    )
    kind, errors = rules.check(data, content_type, already=already or 0)
    if errors:
        raise ValidationFailed(errors)
    att = Attachment(
        id=uuid.uuid4(),
        agency=agency,
        owner_type=owner_type,
        owner_id=owner_id,
        filename=rules.clean_filename(filename, kind),
        content_type=kind,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_by=actor.id,
    )
    session.add(att)
    audit.record(
        session,
        agency=agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action="attachment.add",
        object_type=owner_type,
        object_id=owner_id,
        ip=actor.ip,
        detail={"attachment": str(att.id), "filename": att.filename, "size": att.size},
    )
    return att


def list_for(
    session: Session, *, agency: str, owner_type: str, owner_id: str
) -> list[AttachmentInfo]:
    """The files of one record, oldest first, without their bytes."""
    rows = session.execute(
        select(
            Attachment.id,
            Attachment.filename,
            Attachment.content_type,
            Attachment.size,
            Attachment.created_at,
        )
        .where(
            Attachment.agency == agency,
            Attachment.owner_type == owner_type,
            Attachment.owner_id == owner_id,
        )
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    return [AttachmentInfo(*r) for r in rows]


def load(
    session: Session, *, agency: str, attachment_id: uuid.UUID | str, owner_type: str, owner_id: str
) -> Attachment:
    """One file of one record; NotFound for a malformed id or a file of another record."""
    try:
        key = (
            attachment_id if isinstance(attachment_id, uuid.UUID) else uuid.UUID(str(attachment_id))
        )
    except ValueError as exc:
        raise NotFound("no such attachment") from exc
    att = session.get(Attachment, key)
    if att is None or (att.agency, att.owner_type, att.owner_id) != (agency, owner_type, owner_id):
        raise NotFound("no such attachment")
    return att
