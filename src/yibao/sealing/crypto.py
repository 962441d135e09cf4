"""Seal and open one value: AES-256-GCM with a random 96-bit nonce, tagged with its key id.

Format: ``enc2:<kid>:<urlsafe base64(nonce + ciphertext + tag)>``. The additional data names the
column, so a sealed value copied into another column does not open. Values written by the first
field-mode format (``enc1:``, the field laptop's key) are still read.
"""

from __future__ import annotations

import base64
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc2:"
FIELD_PREFIX = "enc1:"  # field laptops before sealing at rest (yibao.field.crypto)
PREFIXES = (PREFIX, FIELD_PREFIX)
KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SealError(Exception):
    """A sealed value that does not open: unknown key id, wrong key, or damaged text."""


def is_sealed(value: str) -> bool:
    """Whether ``value`` is already sealed (either format)."""
    return value.startswith(PREFIXES)


def kid_of(value: str) -> str | None:
    """The key id of an ``enc2:`` value; ``"field"`` for ``enc1:``; None when plain."""
    if value.startswith(FIELD_PREFIX):
        return "field"
    if not value.startswith(PREFIX):
        return None
    kid, sep, _ = value[len(PREFIX) :].partition(":")
    return kid if sep else None


def seal(value: str, *, kid: str, key: bytes, aad: str) -> str:
    """``value`` encrypted under ``key``, tagged with ``kid``."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), aad.encode())
    return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def open_with(value: str, keys: list[bytes], *, aad: str) -> str:
    """Open an ``enc2:`` value with the first of ``keys`` that fits."""
    kid, sep, body = value[len(PREFIX) :].partition(":")
    if not sep:
        raise SealError("damaged sealed value")
    try:
        raw = base64.urlsafe_b64decode(body)
    except ValueError:
        raise SealError("damaged sealed value") from None
    if len(raw) < 12 + 16:
        raise SealError("damaged sealed value")
    for key in keys:
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode()).decode()
        except InvalidTag:
            continue
    raise SealError(f"no loaded key opens a value sealed under key id {kid!r}")


def open(value: str, *, key: bytes, aad: str) -> str:
    """Open a value sealed by ``seal`` with ``key``."""
    return open_with(value, [key], aad=aad)
