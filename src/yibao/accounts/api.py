"""HTTP adapter of accounts: the token endpoint."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from yibao.accounts import service, signin
from yibao.accounts.models import User
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import (
    FieldError,
    RateLimited,
    SecondFactorEnrolmentRequired,
    SecondFactorRequired,
    ValidationFailed,
)
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep, UowDep, client_ip

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenIn(BaseModel):
    """Credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = Field(
        default=None,
        max_length=32,
        description="A code from the authenticator, or a recovery code, where the account "
        "signs in with a second factor",
    )


class TokenOut(BaseModel):
    """A bearer token and its lifetime in seconds."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post(
    "/token",
    response_model=TokenOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": TokenIn.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": TokenIn.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def token(request: Request, runtime: RuntimeDep, uow: UowDep) -> TokenOut:
    """Exchange a username and password (JSON or form-encoded) for a bearer token.

    Accounts with an authenticator also send ``otp``; a role that must use one and has not
    enrolled gets 403 until it does (on the account page).
    """
    creds = await _read_credentials(request)
    wait = await run_in_threadpool(request.app.state.login_limiter.hit, client_ip(request) or "?")
    if wait is not None:
        raise RateLimited(
            "too many sign-in attempts from this address; try again later", retry_after=int(wait)
        )
    settings = runtime.settings
    user = await run_in_threadpool(_sign_in, runtime, uow, creds, client_ip(request))
    runtime.on_login(creds.password)
    ttl = settings.token_ttl_seconds
    return TokenOut(
        access_token=service.issue_token(
            user, secret=settings.secret_key, now=runtime.now(), ttl_seconds=ttl
        ),
        expires_in=ttl,
    )


def _sign_in(runtime: Runtime, uow: UnitOfWork, creds: TokenIn, ip: str | None) -> User:
    """The password, then the second factor where the account has one (one transaction)."""
    now = runtime.now()
    client = signin.Client(ip=ip)
    ok = signin.check_password(
        uow,
        agency=runtime.agency,
        username=creds.username,
        password=creds.password,
        now=now,
        client=client,
        mfa_default=runtime.settings.mfa_required_roles,
    )
    method = "password"
    if ok.step == "enrol":
        uow.commit()
        raise SecondFactorEnrolmentRequired(
            "this role signs in with a second factor: enrol an authenticator on the account "
            "page (/account) first"
        )
    if ok.step == "code":
        if not creds.otp:
            uow.commit()
            raise SecondFactorRequired(
                "this account signs in with a second factor: send the authenticator's code "
                "(or a recovery code) as otp"
            )
        method = signin.check_second_factor(
            uow, user=ok.user, code=creds.otp, now=now, client=client
        )
    signin.succeeded(uow, user=ok.user, client=client)
    audit.record(
        uow.session,
        agency=ok.user.agency,
        actor_id=ok.user.id,
        actor_name=ok.user.username,
        action="auth.token",
        object_type="user",
        object_id=str(ok.user.id),
        ip=ip,
        role=ok.user.role,
        unit=ok.user.station_code,
        detail={"factor": method},
    )
    uow.commit()
    return ok.user


async def _read_credentials(request: Request) -> TokenIn:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        raw = await request.body()
        try:
            data = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValidationFailed.single("body", "not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed.single("body", "expected an object with username and password")
    try:
        return TokenIn.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
                for e in exc.errors()
            ]
        ) from None
