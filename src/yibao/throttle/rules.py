"""Sliding-window rate arithmetic over two fixed windows (pure).

A counter per (key, window) is all the storage needs; the estimate weighs the previous window
by the part of it still inside the sliding window, which is the usual approximation (it never
lets through more than ``limit`` hits in any window-long span by more than one window's
rounding, and it needs no list of timestamps per client).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Where ``now`` falls: the index of its fixed window and how far into it (0 ≤ f < 1)."""

    index: int
    fraction: float


def window_of(now: float, seconds: float) -> Window:
    """The fixed window of ``now`` (seconds since the epoch)."""
    if seconds <= 0:
        raise ValueError("a window must last more than 0 seconds")
    position = now / seconds
    index = math.floor(position)
    return Window(index, position - index)


def estimate(previous: int, current: int, fraction: float) -> float:
    """Hits in the sliding window ending now: all of this window, the rest of the last one."""
    return previous * (1.0 - fraction) + current


def wait_seconds(previous: int, current: int, fraction: float, limit: int, seconds: float) -> float:
    """Seconds until one more hit fits under ``limit`` (0 when it fits now).

    Only the previous window's share decays; when this window alone is full, the wait is to its
    end (and then the whole of it becomes the decaying "previous").
    """
    if estimate(previous, current, fraction) < limit:
        return 0.0
    if previous > 0 and current < limit:
        # previous * (1 - f') + current < limit  ⇔  f' > 1 - (limit - current) / previous
        needed = 1.0 - (limit - current) / previous
        # At least a little: exactly at the limit (float rounding) is still over it.
        return max(1e-3, (needed - fraction) * seconds)
    return (1.0 - fraction) * seconds
