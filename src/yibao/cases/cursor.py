"""Opaque, signed keyset cursors: a tampered cursor is refused, never trusted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from yibao.errors import ValidationFailed

_SIG_BYTES = 16


def _sign(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"cursor:" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


def encode_cursor(received_at: datetime, case_id: uuid.UUID, secret: str) -> str:
    """A cursor pointing just after the row (received_at, id)."""
    payload = json.dumps([received_at.isoformat(), str(case_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_sign(payload, secret) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, secret: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor points at; raises a field error on anything not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sig, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
        if not hmac.compare_digest(sig, _sign(payload, secret)):
            raise ValueError("bad signature")
        at, ident = json.loads(payload)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, uuid.UUID(ident)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValidationFailed.single(
            "cursor", "invalid or tampered page cursor", "分页参数无效"
        ) from None
