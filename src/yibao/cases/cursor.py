"""Opaque, signed keyset cursors: a tampered cursor is refused, never trusted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from yibao.errors import ValidationFailed

_SIG_BYTES = 16


def _sign(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"cursor:" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


def encode_cursor(kind: str, values: list[str], secret: str) -> str:
    """A cursor for one ordering (``kind``) pointing just after the row with these key values."""
    payload = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(_sign(payload, secret) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, secret: str) -> list[str]:
    """The key values a cursor of this ordering points at; a field error for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sig, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
        if not hmac.compare_digest(sig, _sign(payload, secret)):
            raise ValueError("bad signature")
        data = json.loads(payload)
        if not isinstance(data, list) or not data or data[0] != kind:
            raise ValueError("another ordering")
        if not all(isinstance(v, str) for v in data[1:]):
            raise ValueError("bad values")
        return [str(v) for v in data[1:]]
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed.single(
            "cursor", "invalid or tampered page cursor", "分页参数无效"
        ) from None
