"""HTML pages of accounts: sign in, sign out, language switch."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.accounts import service, sessions
from yibao.errors import AccountLocked, NotAuthenticated
from yibao.web.deps import RuntimeDep, client_ip
from yibao.web.i18n import LOCALES
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfDep,
    LoginRequired,
    PageActor,
    home_for,
    new_login_csrf,
    render,
    session_info,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/")
def root(request: Request, runtime: RuntimeDep) -> Response:
    """Home: the page of the signed-in role, or the sign-in form."""
    try:
        info = session_info(request, runtime)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(info.actor), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    token = new_login_csrf()
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=3600,
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the password (with the lockout) and open a session."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    error = None
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        error = _("The form expired. Please sign in again.")
    elif not username.strip() or not password:
        error = _("Enter your username and password.")
    user = None
    status = 401
    if error is None and await run_in_threadpool(
        request.app.state.login_limiter.hit, client_ip(request) or "?"
    ):
        error = _("Too many sign-in attempts from this address. Wait a minute and try again.")
        status = 429
    if error is None:
        settings = runtime.settings
        try:
            with runtime.db.uow() as uow:
                user = await run_in_threadpool(
                    service.authenticate,
                    uow,
                    agency=runtime.agency,
                    username=username.strip(),
                    password=password,
                    now=runtime.now(),
                    threshold=settings.lockout_threshold,
                    lock_minutes=settings.lockout_minutes,
                    ip=client_ip(request),
                )
        except AccountLocked:
            error = _(
                "Too many wrong passwords: this account is locked for %(minutes)d minutes."
            ) % {"minutes": settings.lockout_minutes}
        except NotAuthenticated:
            error = _("Wrong username or password.")
    if user is None:
        token = new_login_csrf()
        response = render(
            request,
            "login.html",
            {"login_csrf": token, "error": error, "username": username, "next": _safe_next(next)},
            status_code=status,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=3600,
        )
        return response
    runtime.on_login(password)
    with runtime.db.uow() as uow:
        session_token = sessions.start(uow, user=user, now=runtime.now(), ip=client_ip(request))
    target = _safe_next(next) or home_for(service.actor_of(user))
    redirect = RedirectResponse(target, status_code=303)
    set_session_cookie(
        redirect, request, session_token, max_age=runtime.settings.session_max_hours * 3600
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
def logout(request: Request, runtime: RuntimeDep, _info: CsrfDep) -> Response:
    """End the session."""
    with runtime.db.uow() as uow:
        sessions.end(uow, token=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> Response:
    """Switch the interface language (zh_CN or en) and go back."""
    response = RedirectResponse(_safe_next(next) or "/", status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/account")
def account(request: Request, actor: PageActor) -> Response:
    """Who I am: name, role, station (the landing page of roles without a workbench)."""
    return render(request, "account.html", {"me": actor})
