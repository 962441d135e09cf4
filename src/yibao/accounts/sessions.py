"""Browser sessions: server-side rows, so logout and idle timeout really end them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from yibao.accounts.models import User, WebSession
from yibao.accounts.rules import Actor
from yibao.accounts.service import actor_of
from yibao.audit import service as audit
from yibao.db import Database, UnitOfWork

# Writing last_seen on every request would make every page a write; once a minute is enough
# for an idle timeout measured in tens of minutes.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionInfo:
    """A live session: who, and the CSRF token its forms must carry."""

    actor: Actor
    csrf_token: str
    session_id: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    uow: UnitOfWork, *, user: User, now: datetime, ip: str | None, factor: str = "password"
) -> str:
    """Open a session for ``user`` and return the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    uow.session.add(
        WebSession(
            agency=user.agency,
            token_hash=_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            ip=ip,
        )
    )
    audit.record(
        uow.session,
        agency=user.agency,
        actor_id=user.id,
        actor_name=user.username,
        action="auth.login",
        object_type="user",
        object_id=str(user.id),
        ip=ip,
        role=user.role,
        unit=user.station_code,
        detail={"factor": factor},
    )
    uow.commit()
    return token


def resolve(
    db: Database,
    token: str | None,
    *,
    now: datetime,
    idle: timedelta,
    absolute: timedelta,
    ip: str | None = None,
) -> SessionInfo | None:
    """The live session behind a cookie token, or None when unknown, idle or too old."""
    if not token:
        return None
    with db.session() as reader:
        row = reader.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
        if row is None:
            return None
        user = reader.get(User, row.user_id)
    expired = now - row.last_seen_at > idle or now - row.created_at > absolute
    if expired or user is None or not user.active:
        with db.uow() as uow:
            uow.session.execute(delete(WebSession).where(WebSession.id == row.id))
            uow.commit()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        with db.uow() as uow:
            uow.session.execute(
                update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now)
            )
            uow.commit()
    return SessionInfo(actor=actor_of(user, ip=ip), csrf_token=row.csrf_token, session_id=row.id)


def end(uow: UnitOfWork, *, token: str | None) -> None:
    """Close the session behind ``token`` (logout); unknown tokens are ignored."""
    if token:
        uow.session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
        uow.commit()
