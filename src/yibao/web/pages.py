"""What every HTML page shares: the signed-in session, CSRF, locale, and rendering."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from yibao.accounts import sessions
from yibao.accounts.rules import Actor, Role
from yibao.accounts.sessions import SessionInfo
from yibao.audit import context as audit_context
from yibao.errors import DomainError, FieldError, ValidationFailed
from yibao.runtime import Runtime
from yibao.web import i18n
from yibao.web.deps import RuntimeDep, client_ip
from yibao.web.i18n import gettext as _
from yibao.web.templating import templates

SESSION_COOKIE = "yibao_session"
LOGIN_CSRF_COOKIE = "yibao_login_csrf"
LANG_COOKIE = "lang"


class LoginRequired(Exception):
    """No live session: the page sends the browser to the login form."""


class CsrfFailed(Exception):
    """A form arrived without the session's CSRF token."""


class PageForbidden(Exception):
    """The signed-in role may not open this page."""


class LocaleMiddleware:
    """Sets the request's language (cookie ``lang``: zh_CN or en) for gettext in templates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cookie = None
            for name, value in scope.get("headers") or []:
                if name == b"cookie":
                    for part in value.decode("latin-1").split(";"):
                        k, _sep, v = part.strip().partition("=")
                        if k == LANG_COOKIE:
                            cookie = v
            token = i18n.current_locale.set(i18n.pick_locale(cookie, None))
            try:
                await self.app(scope, receive, send)
            finally:
                i18n.current_locale.reset(token)
        else:
            await self.app(scope, receive, send)


def session_info(request: Request, runtime: RuntimeDep) -> SessionInfo:
    """The live session of this browser, or LoginRequired."""
    info = sessions.resolve(
        runtime.db,
        request.cookies.get(SESSION_COOKIE),
        now=runtime.now(),
        idle=timedelta(minutes=runtime.settings.session_idle_minutes),
        absolute=timedelta(hours=runtime.settings.session_max_hours),
        ip=client_ip(request),
    )
    if info is None:
        raise LoginRequired
    request.state.session = info
    request.state.actor = info.actor  # the denial audit of this request names it
    audit_context.set_actor(role=info.actor.role.value, unit=info.actor.unit)
    return info


SessionDep = Annotated[SessionInfo, Depends(session_info)]


def page_actor(info: SessionDep) -> Actor:
    """The signed-in actor of a page."""
    return info.actor


PageActor = Annotated[Actor, Depends(page_actor)]


async def csrf_protect(request: Request, info: SessionDep) -> SessionInfo:
    """Refuse a state-changing request that lacks this session's CSRF token."""
    sent = request.headers.get("x-csrf-token")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, info.csrf_token):
        raise CsrfFailed
    return info


CsrfDep = Annotated[SessionInfo, Depends(csrf_protect)]


def require_roles(actor: Actor, *roles: Role) -> None:
    """Refuse a page to roles not listed."""
    if actor.role not in roles:
        raise PageForbidden


NAV: list[tuple[str, str, frozenset[Role]]] = [
    ("/queue", "Queue", frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER})),
    ("/intake", "Intake", frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER})),
    ("/cases", "All cases", frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR})),
    ("/dashboard", "Station dashboard", frozenset({Role.STATION_MASTER})),
    ("/overview", "Bureau overview", frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR})),
    ("/transfers", "Transfers", frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR})),
    (
        "/field/devices",
        "Field laptops",
        frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR, Role.ADMIN}),
    ),
    (
        "/visits",
        "Mobile visits",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    (
        "/filings",
        "Treatment elsewhere",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    (
        "/ratings",
        "Ratings",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    (
        "/questionnaires",
        "Questionnaires",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    ("/leads", "Supervision leads", frozenset({Role.CLERK, Role.STATION_MASTER, Role.SUPERVISOR})),
    (
        "/disputes",
        "Disputes",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    (
        "/inspections",
        "Four in place",
        frozenset({Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR}),
    ),
    ("/admin/users", "Users", frozenset({Role.ADMIN})),
    ("/admin/stations", "Stations", frozenset({Role.ADMIN})),
    ("/admin/calendar", "Calendar", frozenset({Role.ADMIN})),
    ("/admin/sign-in", "Sign-in security", frozenset({Role.ADMIN})),
    ("/audit", "Audit records", frozenset({Role.AUDITOR})),
    ("/audit/chain", "Chain status", frozenset({Role.AUDITOR})),
    ("/audit/export", "Export and archive", frozenset({Role.AUDITOR})),
]


# Shown together under one menu (站务) so that the bar stays one line on a station's screen.
STATION_WORK_PATHS = frozenset(
    {"/filings", "/ratings", "/questionnaires", "/leads", "/disputes", "/inspections"}
)


ROLE_LABELS: dict[str, str] = {
    "clerk": "Clerk",
    "station_master": "Station master",
    "bureau_officer": "Bureau officer",
    "supervisor": "Supervisor",
    "auditor": "Auditor",
    "admin": "Administrator",
}


def home_for(actor: Actor) -> str:
    """Where a role lands after signing in."""
    if actor.role == Role.ADMIN:
        return "/admin/users"
    if actor.role == Role.SUPERVISOR:
        return "/overview"
    if actor.role == Role.AUDITOR:
        return "/audit"
    return "/queue"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a template with what every page needs (actor, CSRF token, navigation)."""
    info: SessionInfo | None = getattr(request.state, "session", None)
    runtime: Runtime = request.app.state.runtime
    actor = info.actor if info else None
    ctx: dict[str, Any] = {
        "actor": actor,
        "csrf_token": info.csrf_token if info else "",
        "nav": [
            (href, label)
            for href, label, roles in NAV
            if actor and actor.role in roles and href not in STATION_WORK_PATHS
        ],
        "nav_station_work": [
            (href, label)
            for href, label, roles in NAV
            if actor and actor.role in roles and href in STATION_WORK_PATHS
        ],
        "path": request.url.path,
        "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "unit_name": runtime.reference().unit_names.get(actor.unit or "", "") if actor else "",
        "locale": i18n.current_locale.get(),
        "is_htmx": request.headers.get("hx-request") == "true",
        "role_labels": ROLE_LABELS,
        "field_mode": runtime.field_hook is not None,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)


def field_errors(exc: DomainError) -> dict[str, str]:
    """Field → message in the page's language, from the same errors the API returns."""
    if not isinstance(exc, ValidationFailed):
        return {}
    zh = i18n.current_locale.get() == "zh_CN"
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(e.field, e.message_zh if zh and e.message_zh else e.message)
    return out


def error_message(exc: DomainError) -> str:
    """A one-line message for a domain error, in the page's language."""
    if isinstance(exc, ValidationFailed):
        return _("Please correct the marked fields.")
    return _(exc.title) if i18n.current_locale.get() == "zh_CN" else exc.detail


def pydantic_errors(raw: list[dict[str, Any]]) -> ValidationFailed:
    """Pydantic errors as the domain's ValidationFailed (so pages show them by field)."""
    from yibao.web.problems import PYDANTIC_ZH, field_path

    return ValidationFailed(
        [
            FieldError(
                field_path(e["loc"]), e["msg"], PYDANTIC_ZH.get(e.get("type", ""), "输入不正确")
            )
            for e in raw
        ]
    )


def login_redirect(request: Request) -> Response:
    """Send the browser to the login page and back here afterwards."""
    target = "/login?next=" + quote(
        request.url.path + (f"?{request.url.query}" if request.url.query else "")
    )
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def new_login_csrf() -> str:
    """A fresh double-submit token for the login form (there is no session yet)."""
    return secrets.token_urlsafe(24)


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
