"""Wrong sign-ins counted in the node's database, so every worker process sees the same waits.

See ``backoff_rules`` for the arithmetic. Three keys can hold a sign-in back: the account name
(``name:<user>``, for clients that never signed in as that user) or, from a browser that did,
the account on that device (``device:<user>:<id>``), and the source address (``addr:<ip>``).
Unknown names are counted exactly like real ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yibao.accounts import backoff_rules as rules
from yibao.accounts.models import SignInBackoff

MAX_KEY = 200


def _name(username: str) -> str:
    return username.strip().lower()[:64]


def keys_for(username: str, *, ip: str | None, device: str | None) -> list[str]:
    """The keys one sign-in attempt is counted under."""
    name = _name(username)
    keys = [f"device:{name}:{device}" if device else f"name:{name}"]
    if ip:
        keys.append(f"addr:{ip}")
    return [k[:MAX_KEY] for k in keys]


def wait_seconds(session: Session, *, agency: str, keys: list[str], now: datetime) -> int | None:
    """Whole seconds until an attempt under ``keys`` may be tried (None: now)."""
    until = session.scalars(
        select(SignInBackoff.blocked_until).where(
            SignInBackoff.agency == agency,
            SignInBackoff.key.in_(keys),
            SignInBackoff.blocked_until > now,
        )
    ).all()
    latest = max((u for u in until if u is not None), default=None)
    if latest is None:
        return None
    return max(1, math.ceil((latest - now).total_seconds()))


@dataclass(frozen=True)
class Started:
    """A key that began to wait with this failure (worth an ``auth.lock`` record)."""

    key: str
    failures: int
    until: datetime


def fail(session: Session, *, agency: str, keys: list[str], now: datetime) -> list[Started]:
    """Count one wrong try under each key; returns the keys whose wait began with it."""
    started: list[Started] = []
    pg = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if pg else sqlite.insert
    for key in keys:
        # Create the row if it is new (never fails under concurrent workers), then lock it.
        session.execute(
            insert(SignInBackoff)
            .values(agency=agency, key=key, failures=0, last_failure_at=now)
            .on_conflict_do_nothing(index_elements=["agency", "key"])
        )
        row = session.scalars(
            select(SignInBackoff)
            .where(SignInBackoff.agency == agency, SignInBackoff.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        failures = rules.counted_failures(row.failures, row.last_failure_at, now) + 1
        allowance = rules.ALLOWANCES[rules.kind_of(key)]
        wait = rules.delay(failures, allowance.free)
        row.failures = failures
        row.last_failure_at = now
        row.blocked_until = now + wait if wait else None
        if wait and failures == allowance.free + 1:
            started.append(Started(key, failures, now + wait))
    session.flush()
    return started


def clear_account(session: Session, *, agency: str, keys: list[str]) -> None:
    """Forget the account's count after a right sign-in (the address keeps its own)."""
    mine = [k for k in keys if rules.kind_of(k) != "addr"]
    if mine:
        session.execute(
            delete(SignInBackoff).where(SignInBackoff.agency == agency, SignInBackoff.key.in_(mine))
        )


@dataclass(frozen=True)
class Held:
    """A key that is waiting now or has used up its free tries (for the admin's page)."""

    key: str
    kind: str
    subject: str  # the user name or the address
    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None


def held(session: Session, *, agency: str, now: datetime) -> list[Held]:
    """Every key still counting failures past its free tries, the longest wait first."""
    out: list[Held] = []
    rows = session.scalars(
        select(SignInBackoff)
        .where(SignInBackoff.agency == agency, SignInBackoff.failures > 0)
        .order_by(SignInBackoff.last_failure_at.desc())
        .limit(500)
    )
    for row in rows:
        kind = rules.kind_of(row.key)
        failures = rules.counted_failures(row.failures, row.last_failure_at, now)
        if failures <= rules.ALLOWANCES[kind].free:
            continue
        subject = row.key.split(":", 2)[1] if kind != "addr" else row.key.split(":", 1)[1]
        out.append(Held(row.key, kind, subject, failures, row.last_failure_at, row.blocked_until))
    return out


def lift(session: Session, *, agency: str, key: str) -> bool:
    """Forget one key's failures (an admin's unlock); False when there was nothing to lift."""
    result = session.execute(
        delete(SignInBackoff).where(SignInBackoff.agency == agency, SignInBackoff.key == key)
    )
    return bool(getattr(result, "rowcount", 0))


def lift_user(session: Session, *, agency: str, username: str) -> int:
    """Forget every count of one account (its name and all its devices)."""
    name = _name(username)
    result = session.execute(
        delete(SignInBackoff).where(
            SignInBackoff.agency == agency,
            or_(
                SignInBackoff.key == f"name:{name}",
                SignInBackoff.key.like(f"device:{name}:%"),
            ),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
