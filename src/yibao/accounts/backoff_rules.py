"""How long wrong sign-ins hold a key back: growing delays, then a cool-down (pure).

A key (an account name seen from unknown clients, an account on one known device, or a source
address) has a few free tries; each wrong one after them doubles the wait, up to a cool-down of
``COOL_DOWN``. There is never a lock that only an admin can lift: the wait always ends, and a
third party who hammers a clerk's name only slows down clients that have never signed in as
that clerk (the clerk's own window carries a device cookie and is counted apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(seconds=2)
COOL_DOWN = timedelta(minutes=15)
# Failures older than this are forgotten: the count starts again.
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Allowance:
    """Free tries of one kind of key."""

    kind: str  # "name", "device" or "addr"
    free: int


NAME = Allowance("name", 5)
DEVICE = Allowance("device", 5)
# An address is shared by every clerk behind a station's router: more room before it waits.
ADDR = Allowance("addr", 30)

ALLOWANCES = {a.kind: a for a in (NAME, DEVICE, ADDR)}


def delay(failures: int, free: int) -> timedelta | None:
    """The wait after the ``failures``-th wrong try in a row (None while tries are free)."""
    over = failures - free
    if over <= 0:
        return None
    # 2 s, 4 s, 8 s, … capped: 2 ** 9 s is past the cool-down already.
    wait: timedelta = FIRST_DELAY * (2 ** min(over - 1, 10))
    return min(COOL_DOWN, wait)


def counted_failures(failures: int, last_failure_at: datetime | None, now: datetime) -> int:
    """The failures that still count at ``now`` (0 after a quiet day)."""
    if last_failure_at is None or now - last_failure_at >= FORGET_AFTER:
        return 0
    return failures


def kind_of(key: str) -> str:
    """The kind of a stored key (the part before the first colon)."""
    return key.split(":", 1)[0]
