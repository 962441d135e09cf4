"""HTML pages of the second factor: the code step of signing in, enrolling an authenticator
(at sign-in when the role needs one, or from the account page), and recovery codes.

After a right password the browser holds a signed, five-minute ``yibao_pending`` cookie that
names the user and the step (``mfa``: type a code; ``enrol``: set up the app first); only a
completed second step opens a session.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.accounts import service, sessions, signin, totp
from yibao.accounts.models import User
from yibao.audit import service as audit
from yibao.cases.printables import qr_svg
from yibao.db import UnitOfWork
from yibao.errors import NotAuthenticated, RateLimited
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep, client_ip
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    LOGIN_CSRF_COOKIE,
    home_for,
    new_login_csrf,
    render,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)

PENDING_COOKIE = "yibao_pending"


def device_cookie_name(username: str) -> str:
    """One device cookie per account, so clerks who share a window each keep theirs."""
    return "yibao_dev_" + hashlib.sha256(username.strip().lower().encode()).hexdigest()[:12]


def client_of(request: Request, runtime: Runtime, username: str) -> signin.Client:
    """The source address and, when this browser signed in as ``username`` before, its id."""
    device = signin.device_of(
        request.cookies.get(device_cookie_name(username)),
        username=username,
        secret=runtime.settings.secret_key,
        agency=runtime.agency,
        now=runtime.now(),
    )
    return signin.Client(ip=client_ip(request), device=device)


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_login_csrf(response: Response, request: Request, token: str) -> None:
    """The double-submit cookie of the forms shown before there is a session."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
    )


def _csrf_ok(request: Request, token: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, token)


def start_pending(
    request: Request, runtime: Runtime, user: User, purpose: str, next_path: str | None
) -> Response:
    """Send the browser to the second step with the signed proof of the right password."""
    token = signin.pending_token(
        user, purpose=purpose, secret=runtime.settings.secret_key, now=runtime.now()
    )
    target = "/login/code" if purpose == "mfa" else "/login/enrol"
    if next_path:
        target += "?next=" + next_path.replace("&", "%26")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(signin.PENDING_FOR.total_seconds()),
        path="/login",
    )
    return response


def finish_sign_in(
    request: Request,
    runtime: Runtime,
    uow: UnitOfWork,
    user: User,
    client: signin.Client,
    *,
    factor: str,
    response: Response | None = None,
    next_path: str | None = None,
) -> Response:
    """Open the session (one transaction with the audit record), set the cookies."""
    signin.succeeded(uow, user=user, client=client)
    token = sessions.start(uow, user=user, now=runtime.now(), ip=client.ip, factor=factor)
    if response is None:
        response = RedirectResponse(
            safe_next(next_path) or home_for(service.actor_of(user)), status_code=303
        )
    set_session_cookie(response, request, token, max_age=runtime.settings.session_max_hours * 3600)
    response.set_cookie(
        device_cookie_name(user.username),
        signin.device_token(
            user, secret=runtime.settings.secret_key, now=runtime.now(), device=client.device
        ),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(signin.DEVICE_FOR.total_seconds()),
        path="/login",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


def _pending(request: Request, runtime: Runtime, uow: UnitOfWork, purpose: str) -> User | None:
    return signin.pending_user(
        uow,
        request.cookies.get(PENDING_COOKIE),
        purpose=purpose,
        secret=runtime.settings.secret_key,
        agency=runtime.agency,
        now=runtime.now(),
    )


def _expired() -> Response:
    return RedirectResponse("/login?expired=1", status_code=303)


# ------------------------------------------------------------------ the code step


def _code_page(
    request: Request,
    *,
    error: str | None = None,
    next_path: str | None = None,
    status_code: int = 200,
) -> Response:
    token = new_login_csrf()
    response = render(
        request,
        "login_code.html",
        {"login_csrf": token, "error": error, "next": safe_next(next_path)},
        status_code=status_code,
    )
    set_login_csrf(response, request, token)
    return response


@router.get("/login/code")
def code_form(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    """The second step: a code from the authenticator or a recovery code."""
    with runtime.db.uow() as uow:
        if _pending(request, runtime, uow, "mfa") is None:
            return _expired()
    return _code_page(request, next_path=next)


@router.post("/login/code")
async def code_submit(
    request: Request,
    runtime: RuntimeDep,
    code: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the code; a right one opens the session."""
    if not _csrf_ok(request, csrf_token):
        return _code_page(
            request,
            error=_("The form expired. Please sign in again."),
            next_path=next,
            status_code=401,
        )
    if not code.strip():
        return _code_page(
            request,
            error=_("Enter the 6-digit code from your authenticator app."),
            next_path=next,
            status_code=422,
        )
    return await run_in_threadpool(_check_code, request, runtime, code, next)


def _check_code(request: Request, runtime: Runtime, code: str, next_path: str) -> Response:
    with runtime.db.uow() as uow:
        user = _pending(request, runtime, uow, "mfa")
        if user is None:
            return _expired()
        client = client_of(request, runtime, user.username)
        try:
            method = signin.check_second_factor(
                uow, user=user, code=code, now=runtime.now(), client=client
            )
        except RateLimited as exc:
            return _code_page(
                request, error=wait_message(exc), next_path=next_path, status_code=429
            )
        except NotAuthenticated:
            return _code_page(
                request,
                error=_("Wrong or already used code."),
                next_path=next_path,
                status_code=401,
            )
        return finish_sign_in(
            request, runtime, uow, user, client, factor=method, next_path=next_path
        )


def wait_message(exc: RateLimited) -> str:
    seconds = int(exc.data.get("retry_after", 60))
    if seconds >= 90:
        return _("Too many wrong tries. Wait %(minutes)d minutes and try again.") % {
            "minutes": (seconds + 59) // 60
        }
    return _("Too many wrong tries. Wait %(seconds)d seconds and try again.") % {"seconds": seconds}


# ------------------------------------------------------------------ enrolling


def enrol_page(
    request: Request,
    runtime: Runtime,
    uow: UnitOfWork,
    user: User,
    *,
    action: str,
    csrf: str,
    error: str | None = None,
    next_path: str | None = None,
    status_code: int = 200,
) -> Response:
    secret, new = totp.pending_secret(uow.session, user=user, now=runtime.now())
    if new:
        audit.record(
            uow.session,
            agency=user.agency,
            actor_id=user.id,
            actor_name=user.username,
            action="user.totp_setup",
            object_type="user",
            object_id=str(user.id),
            role=user.role,
            unit=user.station_code,
        )
    uow.commit()
    uri = totp.provisioning_uri(user, secret)
    return render(
        request,
        "totp_enrol.html",
        {
            "qr": qr_svg(uri, size_mm=45),
            "secret": totp.grouped(secret),
            "action": action,
            "form_csrf": csrf,
            "error": error,
            "next": safe_next(next_path),
            "required": action == "/login/enrol",
        },
        status_code=status_code,
    )


@router.get("/login/enrol")
def enrol_at_sign_in(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    """A role that must use a second factor sets up the authenticator before going on."""
    with runtime.db.uow() as uow:
        user = _pending(request, runtime, uow, "enrol")
        if user is None:
            return _expired()
        token = new_login_csrf()
        response = enrol_page(
            request, runtime, uow, user, action="/login/enrol", csrf=token, next_path=next
        )
    set_login_csrf(response, request, token)
    return response


@router.post("/login/enrol")
async def enrol_at_sign_in_submit(
    request: Request,
    runtime: RuntimeDep,
    code: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The first code confirms the app; the session opens and the recovery codes are shown."""
    if not _csrf_ok(request, csrf_token):
        return _expired()
    return await run_in_threadpool(_confirm_at_sign_in, request, runtime, code, next)


def _confirm_at_sign_in(request: Request, runtime: Runtime, code: str, next_path: str) -> Response:
    with runtime.db.uow() as uow:
        user = _pending(request, runtime, uow, "enrol")
        if user is None:
            return _expired()
        client = client_of(request, runtime, user.username)
        codes = confirm(uow, runtime, user, code, client)
        if codes is None:
            token = new_login_csrf()
            response = enrol_page(
                request,
                runtime,
                uow,
                user,
                action="/login/enrol",
                csrf=token,
                error=_("That code does not match. Type the code the app shows now."),
                next_path=next_path,
                status_code=422,
            )
            set_login_csrf(response, request, token)
            return response
        page = codes_page(
            request, codes, next_path=safe_next(next_path) or home_for(service.actor_of(user))
        )
        return finish_sign_in(request, runtime, uow, user, client, factor="totp", response=page)


def confirm(
    uow: UnitOfWork, runtime: Runtime, user: User, code: str, client: signin.Client
) -> list[str] | None:
    codes = totp.confirm(uow.session, user=user, code=code, now=runtime.now())
    if codes is None:
        uow.rollback()
        return None
    audit.record(
        uow.session,
        agency=user.agency,
        actor_id=user.id,
        actor_name=user.username,
        action="user.totp_enrol",
        object_type="user",
        object_id=str(user.id),
        ip=client.ip,
        role=user.role,
        unit=user.station_code,
    )
    return codes


def codes_page(request: Request, codes: list[str], *, next_path: str) -> Response:
    return render(request, "recovery_codes.html", {"codes": codes, "next": next_path})
