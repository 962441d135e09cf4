"""Demo data of leads: realistic records over the demo's past cases."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy.orm import Session


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo records inside the demo's transaction; returns how many were made."""
    return 0
