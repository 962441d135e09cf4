"""HTML pages of accounts: sign in (the password step), sign out, language switch, my account."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.accounts import account_views, sessions, signin
from yibao.accounts import second_factor_views as mfa
from yibao.errors import NotAuthenticated, RateLimited
from yibao.runtime import Runtime
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
)

router = APIRouter(include_in_schema=False)


_safe_next = mfa.safe_next


@router.get("/")
def root(request: Request, runtime: RuntimeDep) -> Response:
    """Home: the page of the signed-in role, or the sign-in form."""
    try:
        info = session_info(request, runtime)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(info.actor), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None, expired: str | None = None) -> Response:
    """The sign-in form (``expired``: the second step took too long, start again)."""
    token = new_login_csrf()
    error = _("That took too long. Please sign in again.") if expired else None
    response = render(
        request, "login.html", {"login_csrf": token, "next": _safe_next(next), "error": error}
    )
    mfa.set_login_csrf(response, request, token)
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
    """Check the password under the back-off; then the second factor, or straight in."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    error = None
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        error = _("The form expired. Please sign in again.")
    elif not username.strip() or not password:
        error = _("Enter your username and password.")
    status = 401
    if error is None and await run_in_threadpool(
        request.app.state.login_limiter.hit, client_ip(request) or "?"
    ):
        error = _("Too many sign-in attempts from this address. Wait a minute and try again.")
        status = 429
    if error is None:
        try:
            return await run_in_threadpool(
                _password_step, request, runtime, username, password, next
            )
        except RateLimited as exc:
            error = mfa.wait_message(exc)
            status = 429
        except NotAuthenticated:
            error = _("Wrong username or password.")
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "username": username, "next": _safe_next(next)},
        status_code=status,
    )
    mfa.set_login_csrf(response, request, token)
    return response


def _password_step(
    request: Request, runtime: Runtime, username: str, password: str, next_path: str
) -> Response:
    client = mfa.client_of(request, runtime, username)
    with runtime.db.uow() as uow:
        ok = signin.check_password(
            uow,
            agency=runtime.agency,
            username=username,
            password=password,
            now=runtime.now(),
            client=client,
            mfa_default=runtime.settings.mfa_required_roles,
        )
        runtime.on_login(password)  # a field laptop opens its data key with the password
        if ok.step == "none":
            return mfa.finish_sign_in(
                request, runtime, uow, ok.user, client, factor="password", next_path=next_path
            )
        uow.commit()
        return mfa.start_pending(
            request,
            runtime,
            ok.user,
            "mfa" if ok.step == "code" else "enrol",
            _safe_next(next_path),
        )


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
def account(request: Request, runtime: RuntimeDep, actor: PageActor) -> Response:
    """Who I am: name, role, station and second factor (the landing page of roles without a
    workbench)."""
    return account_views.account_page(request, runtime, actor)
