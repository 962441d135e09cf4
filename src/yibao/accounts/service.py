"""Use cases of accounts: create users, hash and check passwords, issue and check tokens."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts import passwords
from yibao.accounts.models import User
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.audit import service as audit
from yibao.errors import FieldError, NotAuthenticated, ValidationFailed
from yibao.stations.models import Station


def _make_hasher() -> PasswordHasher:
    # argon2id with the library's parameters (RFC 9106 low-memory profile) unless the
    # environment asks otherwise; the test suite does, to keep thousands of sign-ins fast.
    cost = os.environ.get("YIBAO_ARGON2_COST")
    if cost == "test":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = _make_hasher()
DUMMY_HASH = _hasher.hash("timing-equaliser")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    agency: str,
    username: str,
    role: str,
    password: str,
    station: str | None = None,
    display_name: str = "",
    by: str = "cli",
) -> User:
    """Create a staff account; station roles need a station, the bureau officer gets the hall."""
    errors: list[tuple[str, str, str]] = []  # field, message, Chinese message
    if not USERNAME_RE.match(username):
        errors.append(
            (
                "username",
                "2–64 letters, digits, '_', '.' or '-'",
                "须为 2–64 个字母、数字或 _ . - 字符",
            )
        )
    try:
        role_v = Role(role)
    except ValueError:
        errors.append(
            ("role", f"unknown role; one of {', '.join(r.value for r in Role)}", "未知的角色")
        )
        role_v = None
    errors.extend(
        (e.field, e.message, e.message_zh) for e in passwords.problems(password, username=username)
    )
    station_code = station.strip().upper() if station else None
    if role_v is not None:
        if role_v in STATION_ROLES and not station_code:
            errors.append(
                (
                    "station",
                    "a clerk or station master needs a station",
                    "窗口经办员和站长须选择服务站",
                )
            )
        if role_v == Role.BUREAU_OFFICER and not station_code:
            hall = session.scalar(
                select(Station.code).where(Station.agency == agency, Station.kind == "bureau")
            )
            station_code = hall
        if role_v in (Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN) and station_code:
            errors.append(
                ("station", f"a {role_v.value} does not belong to a station", "该角色不属于服务站")
            )
    if station_code:
        found = session.scalar(
            select(Station).where(Station.agency == agency, Station.code == station_code)
        )
        if found is None:
            errors.append(
                ("station", f"unknown station '{station_code}'", f"未知的服务站“{station_code}”")
            )
        elif role_v == Role.BUREAU_OFFICER and found.kind != "bureau":
            errors.append(
                (
                    "station",
                    "a bureau officer belongs to the bureau hall",
                    "局经办只能属于医保局服务大厅",
                )
            )
    if session.scalar(select(User.id).where(User.agency == agency, User.username == username)):
        errors.append(("username", "already taken", "用户名已被占用"))
    if errors:
        raise ValidationFailed([FieldError(f, m, zh) for f, m, zh in errors])
    user = User(
        agency=agency,
        username=username,
        display_name=display_name or username,
        role=role_v.value if role_v else role,
        station_code=station_code,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        agency=agency,
        actor_id=None,
        actor_name=by,
        action="user.create",
        object_type="user",
        object_id=str(user.id),
        detail={"username": username, "role": user.role, "station": station_code},
    )
    return user


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash (False for a malformed hash)."""
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether a stored hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(hashed)


def issue_token(user: User, *, secret: str, now: datetime, ttl_seconds: int) -> str:
    """A signed bearer token for ``user`` that expires after ``ttl_seconds``."""
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "usr": user.username,
        "agy": user.agency,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def actor_from_token(
    session: Session,
    token: str,
    *,
    secret: str,
    agency: str,
    now: datetime,
    ip: str | None = None,
) -> Actor:
    """The actor a bearer token stands for; the account must still exist and be active."""
    try:
        # Expiry is checked against the node's clock (the same one that issued the token).
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
        user_id = int(claims["sub"])
        expired = int(claims["exp"]) <= int(now.timestamp())
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise NotAuthenticated("invalid or expired token") from exc
    if expired:
        raise NotAuthenticated("invalid or expired token")
    user = session.get(User, user_id)
    if user is None or not user.active or user.agency != agency:
        raise NotAuthenticated("invalid or expired token")
    valid_after = user.tokens_valid_after
    if valid_after is not None and int(claims.get("iat", 0)) <= int(valid_after.timestamp()):
        raise NotAuthenticated("invalid or expired token")
    return actor_of(user, ip=ip)


def actor_of(user: User, *, ip: str | None = None) -> Actor:
    """The actor for a loaded user row."""
    return Actor(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        unit=user.station_code,
        agency=user.agency,
        ip=ip,
    )
