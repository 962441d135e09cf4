"""Signed values of the public questionnaire page: the station a printed QR code names, and the
form token a phone gets with the form (which version it shows, and a nonce that becomes the
response's id, so a form sent twice is stored once)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

FORM_TTL_SECONDS = 4 * 3600
_SIG = 16


def _mac(secret: str, purpose: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose.encode() + b":" + payload, hashlib.sha256).digest()


def station_key(secret: str, agency: str, code: str, station: str) -> str:
    """The signature a QR link carries for its station (``?s=F01&k=…``)."""
    raw = _mac(secret, "qr-station", f"{agency}|{code}|{station}".encode())[:12]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def station_ok(secret: str, agency: str, code: str, station: str, key: str) -> bool:
    """Whether a QR link's station signature is genuine."""
    return hmac.compare_digest(station_key(secret, agency, code, station), key or "")


@dataclass(frozen=True)
class FormToken:
    """What the public form was issued for."""

    template_id: int
    version: int
    station: str | None
    nonce: uuid.UUID
    issued: int  # epoch seconds


def issue(secret: str, token: FormToken) -> str:
    """The token as a string for a hidden form field."""
    payload = json.dumps(
        [token.template_id, token.version, token.station, str(token.nonce), token.issued],
        separators=(",", ":"),
    ).encode()
    raw = _mac(secret, "qform", payload)[:_SIG] + payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read(secret: str, text: str, *, now: int) -> FormToken | None:
    """The token's content, or None when forged, malformed or older than its lifetime."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sig, payload = raw[:_SIG], raw[_SIG:]
        if not hmac.compare_digest(sig, _mac(secret, "qform", payload)[:_SIG]):
            return None
        template_id, version, station, nonce, issued = json.loads(payload)
        token = FormToken(
            int(template_id),
            int(version),
            str(station) if station is not None else None,
            uuid.UUID(str(nonce)),
            int(issued),
        )
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not 0 <= now - token.issued <= FORM_TTL_SECONDS:
        return None
    return token
