"""Data at rest on a field laptop: ID numbers encrypted with a key derived from the credentials.

The key is derived (scrypt) from the team member's password and a per-laptop salt when they
sign in, and held in memory only. Without it the laptop's file shows no ID number. Sealed
columns (yibao.sealing.types.Sealed) use this key, under key id ``field``, on a laptop; on the
central node they use the node's data keys (yibao.sealing.keys).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


def is_active() -> bool:
    """Whether this process is a field laptop (new sealed values use the laptop key)."""
    return _active


def current_key() -> bytes | None:
    """The laptop key, when a team member has signed in."""
    return _key


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
