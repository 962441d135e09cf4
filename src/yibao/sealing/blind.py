"""Keyed blind index: ``HMAC-SHA256(index_key, normalised value)`` in hex, for exact look-ups.

Unlike a plain digest it cannot be brute-forced over the ~1e9 plausible ID numbers without
the node's index key, which never changes when the data keys rotate.
"""

from __future__ import annotations

import hashlib
import hmac
import re

DIGEST = re.compile(r"^[0-9a-f]{64}$")


def normalise(value: str) -> str:
    """What two spellings of one number share: no surrounding blanks, upper-case X."""
    return value.strip().upper()


def index(index_key: bytes, value: str) -> str:
    """The blind index of ``value``."""
    return hmac.new(index_key, normalise(value).encode(), hashlib.sha256).hexdigest()


def is_digest(value: str) -> bool:
    """Whether ``value`` already is a blind index (64 lower-case hex digits)."""
    return bool(DIGEST.match(value))


def person_input(agency: str, id_number: str) -> str:
    """What a filing's ``person_key`` digests: the agency and the ID number."""
    return f"person:{agency}:{normalise(id_number)}"
