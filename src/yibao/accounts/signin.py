"""Signing in: the password, then the second factor where the account has or needs one.

Wrong passwords and codes are counted by ``backoff`` (growing delays, never a lock a stranger
can hold on a real clerk); an unknown name gets the same answer, the same argon2 work and the
same bookkeeping as a wrong password, so neither the answer nor its timing tells who exists.
Every outcome is an audit record.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from sqlalchemy import select

from yibao.accounts import backoff, policy, totp
from yibao.accounts.models import User
from yibao.accounts.rules import Role
from yibao.accounts.service import DUMMY_HASH, hash_password, needs_rehash, verify_password
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import NotAuthenticated, RateLimited

Step = Literal["none", "code", "enrol"]
PENDING_FOR = timedelta(minutes=5)
DEVICE_FOR = timedelta(days=400)


@dataclass(frozen=True)
class Client:
    """Where an attempt comes from: the source address and a known device of this name."""

    ip: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class PasswordOk:
    """The password was right; ``step`` says what the second factor still asks."""

    user: User
    step: Step


def _audit(
    uow: UnitOfWork,
    *,
    agency: str,
    action: str,
    user: User | None,
    name: str,
    client: Client,
    result: str = "ok",
    **detail: Any,
) -> None:
    audit.record(
        uow.session,
        agency=agency,
        actor_id=user.id if user is not None else None,
        actor_name=(user.username if user is not None else name.strip()[:64]) or "?",
        action=action,
        object_type="user" if user is not None else "sign_in",
        object_id=str(user.id) if user is not None else name.strip()[:64],
        ip=client.ip,
        detail=detail or None,
        result=result,
    )


def _refuse_if_waiting(
    uow: UnitOfWork,
    *,
    agency: str,
    keys: list[str],
    now: datetime,
    name: str,
    user: User | None,
    client: Client,
) -> None:
    wait = backoff.wait_seconds(uow.session, agency=agency, keys=keys, now=now)
    if wait is None:
        return
    _audit(
        uow,
        agency=agency,
        action="auth.throttled",
        result="denied",
        user=user,
        name=name,
        client=client,
        retry_after=wait,
    )
    uow.commit()
    raise RateLimited("too many wrong sign-ins; wait and try again", retry_after=wait)


def _count_failure(
    uow: UnitOfWork,
    *,
    agency: str,
    keys: list[str],
    now: datetime,
    name: str,
    user: User | None,
    client: Client,
    action: str,
) -> None:
    started = backoff.fail(uow.session, agency=agency, keys=keys, now=now)
    _audit(uow, agency=agency, action=action, user=user, name=name, client=client, result="failed")
    for s in started:
        _audit(
            uow,
            agency=agency,
            action="auth.lock",
            user=user,
            name=name,
            client=client,
            key_kind=s.key.split(":", 1)[0],
            failures=s.failures,
            until=s.until.isoformat(),
        )
    uow.commit()


def check_password(
    uow: UnitOfWork,
    *,
    agency: str,
    username: str,
    password: str,
    now: datetime,
    client: Client,
    mfa_default: str,
) -> PasswordOk:
    """Check the password under the back-off; commits a failure before raising."""
    session = uow.session
    name = username.strip()
    keys = backoff.keys_for(name, ip=client.ip, device=client.device)
    _refuse_if_waiting(uow, agency=agency, keys=keys, now=now, name=name, user=None, client=client)
    user = session.scalar(select(User).where(User.agency == agency, User.username == name))
    known = user is not None and user.active
    # The same argon2 work for an unknown name: no enumeration by timing.
    right = verify_password(
        user.password_hash if user is not None and known else DUMMY_HASH, password
    )
    if not (known and right) or user is None:
        _count_failure(
            uow,
            agency=agency,
            keys=keys,
            now=now,
            name=name,
            user=user if known else None,
            client=client,
            action="auth.fail",
        )
        raise NotAuthenticated("wrong username or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if totp.confirmed(session, user.id) is not None:
        step: Step = "code"
    elif Role(user.role) in policy.mfa_roles(session, agency=agency, default=mfa_default):
        step = "enrol"
    else:
        step = "none"
    return PasswordOk(user, step)


def check_second_factor(
    uow: UnitOfWork, *, user: User, code: str, now: datetime, client: Client
) -> str:
    """Check an authenticator or recovery code under the same back-off as the password.

    Returns how it was given (``totp`` or ``recovery``); commits a failure before raising.
    """
    keys = backoff.keys_for(user.username, ip=client.ip, device=client.device)
    _refuse_if_waiting(
        uow, agency=user.agency, keys=keys, now=now, name=user.username, user=user, client=client
    )
    method = totp.check(uow.session, user=user, code=code, now=now)
    if method is None:
        _count_failure(
            uow,
            agency=user.agency,
            keys=keys,
            now=now,
            name=user.username,
            user=user,
            client=client,
            action="auth.second_factor_fail",
        )
        raise NotAuthenticated("wrong or used code")
    return method


def succeeded(uow: UnitOfWork, *, user: User, client: Client) -> None:
    """Forget the account's wrong tries after a complete sign-in (the caller records it)."""
    keys = backoff.keys_for(user.username, ip=client.ip, device=client.device)
    backoff.clear_account(uow.session, agency=user.agency, keys=keys)
    if client.device is None:
        # A sign-in from a new device also ends the wait strangers caused on the name.
        backoff.clear_account(
            uow.session,
            agency=user.agency,
            keys=backoff.keys_for(user.username, ip=None, device=None),
        )


# ------------------------------------------------------------ signed cookies of the two steps


def pending_token(user: User, *, purpose: str, secret: str, now: datetime) -> str:
    """A short-lived proof that the password was right, for the second step."""
    claims = {
        "sub": str(user.id),
        "pur": purpose,
        "agy": user.agency,
        "iat": int(now.timestamp()),
        "exp": int((now + PENDING_FOR).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def pending_user(
    uow: UnitOfWork, token: str | None, *, purpose: str, secret: str, agency: str, now: datetime
) -> User | None:
    """The user whose password was checked a moment ago (None: no, expired or forged)."""
    if not token:
        return None
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
        if claims.get("pur") != purpose or claims.get("agy") != agency:
            return None
        if int(claims["exp"]) <= int(now.timestamp()):
            return None
        user = uow.session.get(User, int(claims["sub"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    if user is None or not user.active or user.agency != agency:
        return None
    valid_after = user.tokens_valid_after
    if valid_after is not None and int(claims.get("iat", 0)) <= int(valid_after.timestamp()):
        return None
    return user


def device_token(user: User, *, secret: str, now: datetime, device: str | None = None) -> str:
    """The cookie that marks this browser as one the user signed in on."""
    claims = {
        "usr": user.username.lower(),
        "agy": user.agency,
        "dev": device or secrets.token_hex(8),
        "pur": "device",
        "exp": int((now + DEVICE_FOR).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def device_of(
    token: str | None, *, username: str, secret: str, agency: str, now: datetime
) -> str | None:
    """The device id in a valid device cookie for ``username`` (None otherwise)."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        if claims.get("pur") != "device" or claims.get("agy") != agency:
            return None
        if claims.get("usr") != username.strip().lower():
            return None
        if int(claims["exp"]) <= int(now.timestamp()):
            return None
        dev = str(claims["dev"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    return dev if dev.isalnum() and len(dev) <= 32 else None
