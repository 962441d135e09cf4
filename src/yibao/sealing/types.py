"""Column types: ``Sealed`` seals on bind and opens on result; ``BlindIndex`` digests on bind.

Central nodes seal with the current data key of the keyring attached to the engine (see
``keys.attach``). A field laptop (``yibao.field.crypto.activate``) seals with the laptop's
key instead, under key id ``field``, and shows a locked placeholder until a team member signs in.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import JSON, String, TypeDecorator
from sqlalchemy.engine import Dialect

from yibao.field import crypto as field_crypto
from yibao.sealing import blind, keys
from yibao.sealing.crypto import FIELD_PREFIX, PREFIX, SealError, is_sealed, kid_of, open_with, seal

log = logging.getLogger(__name__)

FIELD_KID = "field"
LOCKED = field_crypto.LOCKED
_warned: set[str] = set()


def seal_value(value: str, dialect: Dialect, aad: str) -> str:
    """``value`` sealed as this node (or this field laptop) stores it."""
    if field_crypto.is_active():
        key = field_crypto.current_key()
        if key is None:
            raise RuntimeError("the field key is not loaded: sign in first")
        return seal(value, kid=FIELD_KID, key=key, aad=aad)
    ring = keys.for_dialect(dialect)
    return seal(value, kid=ring.current, key=ring.current_key, aad=aad)


def open_value(value: str, aad: str) -> str:
    """The plain value of a stored one (plain values pass through)."""
    if value.startswith(FIELD_PREFIX):
        return field_crypto.decrypt(value)
    if not value.startswith(PREFIX):
        return value
    kid = kid_of(value) or ""
    if kid == FIELD_KID:
        key = field_crypto.current_key()
        candidates = [key] if key is not None else []
    else:
        candidates = keys.keys_for(kid)
        if not candidates:
            keys.refresh(force=True)  # a rotation elsewhere may have added the key
            candidates = keys.keys_for(kid)
    if not candidates:
        if kid != FIELD_KID and kid not in _warned:
            _warned.add(kid)
            log.warning("no data key with id %r is loaded: sealed values show as locked", kid)
        return LOCKED
    try:
        return open_with(value, candidates, aad=aad)
    except SealError:
        log.warning("a value sealed under key id %r does not open (wrong key or column)", kid)
        return LOCKED


class Sealed(TypeDecorator[str]):
    """A string column stored sealed (``enc2:<kid>:...``); ``aad`` names the column."""

    impl = String(200)
    cache_ok = True

    def __init__(self, aad: str) -> None:
        super().__init__()
        self.aad = aad

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or is_sealed(value):
            return value
        return seal_value(value, dialect, self.aad)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else open_value(value, self.aad)


# Keys whose string values are sealed wherever they occur in a sealed JSON document.
PERSONAL_KEYS = frozenset({"id_number", "phone"})


def walk_personal(value: Any, fn: Any) -> Any:
    """``value`` with ``fn`` applied to every non-empty string under a personal key."""
    if isinstance(value, dict):
        return {
            k: fn(v) if k in PERSONAL_KEYS and isinstance(v, str) and v else walk_personal(v, fn)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [walk_personal(v, fn) for v in value]
    return value


class SealedJSON(TypeDecorator[Any]):
    """A JSON document whose ID and phone numbers (under the keys of ``PERSONAL_KEYS``, at any
    depth) are stored sealed; everything else stays plain JSON."""

    impl = JSON
    cache_ok = True

    def __init__(self, aad: str) -> None:
        super().__init__()
        self.aad = aad

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return walk_personal(
            value, lambda v: v if is_sealed(v) else seal_value(v, dialect, self.aad)
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return walk_personal(value, lambda v: open_value(v, self.aad))


class BlindIndex(TypeDecorator[str]):
    """A keyed digest column: a value bound to it (stored or compared) is digested first."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or blind.is_digest(value):
            return value
        return blind.index(keys.for_dialect(dialect).index_key, value)


def digest(dialect: Dialect, value: str) -> str:
    """The blind index of ``value`` under the keyring of ``dialect``'s engine."""
    return blind.index(keys.for_dialect(dialect).index_key, value)
