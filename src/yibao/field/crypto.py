"""Data at rest on a field laptop: ID numbers encrypted with a key derived from the credentials.

The key is derived (scrypt) from the team member's password and a per-laptop salt when they
sign in, and held in memory only. Without it the laptop's file shows no ID number. On the
central node no key is set and the column stores plain values, as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, TypeDecorator
from sqlalchemy.engine import Dialect

PREFIX = "enc1:"
LOCKED = "******************"  # what a column shows while the key is not loaded

_lock = threading.Lock()
_key: bytes | None = None
_active = False  # this process is a field laptop: new values must be encrypted


def derive_key(password: str, salt: bytes) -> bytes:
    """A 256-bit key from the password (scrypt, n=2**14: about 50 ms, 16 MiB)."""
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def key_check(key: bytes) -> str:
    """A value stored on the laptop to tell a right password from a wrong one."""
    return hmac.new(key, b"yibao-field-key-check", hashlib.sha256).hexdigest()


def activate(key: bytes | None) -> None:
    """Mark this process as a field laptop, with the key if it is known (after sign-in)."""
    global _key, _active
    with _lock:
        _key, _active = key, True


def deactivate() -> None:
    """Back to central behaviour (tests)."""
    global _key, _active
    with _lock:
        _key, _active = None, False


def has_key() -> bool:
    """Whether the key is loaded."""
    return _key is not None


def encrypt(value: str) -> str:
    """Encrypt with the loaded key (AES-GCM, random nonce)."""
    if _key is None:
        raise RuntimeError("the field key is not loaded: sign in first")
    nonce = os.urandom(12)
    sealed = AESGCM(_key).encrypt(nonce, value.encode(), b"yibao")
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(value: str) -> str:
    """Decrypt a value written by ``encrypt``; the locked placeholder without the key."""
    if not value.startswith(PREFIX):
        return value
    if _key is None:
        return LOCKED
    raw = base64.urlsafe_b64decode(value[len(PREFIX) :])
    return AESGCM(_key).decrypt(raw[:12], raw[12:], b"yibao").decode()


class SealedString(TypeDecorator[str]):
    """A string column encrypted at rest on field laptops, plain on the central node."""

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not _active or value.startswith(PREFIX):
            return value
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
