"""HTTP adapter of accounts: the token endpoint."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from yibao.accounts import service
from yibao.errors import FieldError, RateLimited, ValidationFailed
from yibao.web.deps import RuntimeDep, UowDep, client_ip

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenIn(BaseModel):
    """Credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


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
    """Exchange a username and password (JSON or form-encoded) for a bearer token."""
    creds = await _read_credentials(request)
    wait = await run_in_threadpool(request.app.state.login_limiter.hit, client_ip(request) or "?")
    if wait is not None:
        raise RateLimited(
            "too many sign-in attempts from this address; try again later", retry_after=int(wait)
        )
    settings = runtime.settings
    now = runtime.now()
    user = await run_in_threadpool(
        service.authenticate,
        uow,
        agency=runtime.agency,
        username=creds.username,
        password=creds.password,
        now=now,
        threshold=settings.lockout_threshold,
        lock_minutes=settings.lockout_minutes,
        ip=client_ip(request),
    )
    runtime.on_login(creds.password)
    ttl = settings.token_ttl_seconds
    return TokenOut(
        access_token=service.issue_token(
            user, secret=settings.secret_key, now=now, ttl_seconds=ttl
        ),
        expires_in=ttl,
    )


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
