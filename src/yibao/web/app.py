"""The FastAPI application of one yibao node."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from yibao import __version__
from yibao.accounts import api as accounts_api
from yibao.audit import api as audit_api
from yibao.cases import api as cases_api
from yibao.cases import public_api
from yibao.cases.lookup import DAY_SECONDS, WRONG_TAILS_PER_DAY, CaseLookupBound
from yibao.catalog import api as catalog_api
from yibao.config import Settings, get_settings
from yibao.db import Database
from yibao.field import api as field_api
from yibao.runtime import Runtime
from yibao.sealing import logs as sealing_logs
from yibao.throttle.service import SharedRateLimiter
from yibao.transfers import api as transfers_api
from yibao.transfers import federation_api
from yibao.transfers.relay import Relay
from yibao.visits import api as visits_api
from yibao.web import openapi, problems
from yibao.web.allow import AllowHeader
from yibao.web.i18n import gettext as _
from yibao.web.limits import BodyLimit, NulGuard
from yibao.web.pages import (
    CsrfFailed,
    LocaleMiddleware,
    LoginRequired,
    PageForbidden,
    login_redirect,
    render,
)
from yibao.web.request_context import RequestContextMiddleware
from yibao.web.security_headers import SecurityHeaders
from yibao.web.templating import STATIC_DIR

log = logging.getLogger("yibao")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; ``runtime`` may be given by tests (e.g. with a fixed clock)."""
    settings = settings or (runtime.settings if runtime else get_settings())
    if runtime is None:
        runtime = Runtime(settings, Database(settings.resolved_database_url()))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if relay is not None:
            relay.start()
        from yibao.audit.checkpoints import start_background
        from yibao.audit.retention import apply_at_start

        apply_at_start(runtime.db, settings)  # the triggers learn the configured retention
        checkpoint_timer = start_background(runtime.db, settings)  # signed heads, hourly
        yield
        if checkpoint_timer is not None:
            checkpoint_timer.stop()
        if relay is not None:
            relay.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="yibao",
        version=__version__,
        description="Case tracker for medical-insurance service stations (医保服务站). "
        "Errors are application/problem+json.",
    )
    app.state.runtime = runtime
    relay = _federation(settings, runtime)
    _field_mode(runtime)

    # Counted in the database, so every worker of `yibao serve --workers N` shares the limits.
    def clock() -> float:
        return runtime.now().timestamp()

    app.state.public_limiter = SharedRateLimiter(
        runtime.db,
        agency=settings.agency,
        scope="lookup",
        limit=settings.public_rate_per_minute,
        clock=clock,
    )
    app.state.login_limiter = SharedRateLimiter(
        runtime.db,
        agency=settings.agency,
        scope="login",
        limit=settings.login_rate_per_minute,
        clock=clock,
    )
    app.state.case_lookup_bound = CaseLookupBound(
        SharedRateLimiter(
            runtime.db,
            agency=settings.agency,
            scope="lookup-case",
            limit=WRONG_TAILS_PER_DAY,
            window=DAY_SECONDS,
            clock=clock,
        )
    )
    problems.install(app)
    openapi.install(app)  # the problem+json answers are declared, not just sent
    sealing_logs.install()  # no full ID number in any log line

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """Liveness: 200 when the process serves."""
        return JSONResponse({"status": "ok", "agency": settings.agency, "version": __version__})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for it; the pages link the SVG icon."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # Sign-in refuses wrong credentials (401) and, for roles that need one, an account without
    # a second factor yet (403); the router cannot say so in its shape.
    app.include_router(accounts_api.router, responses=openapi.problem_responses(401, 403))
    app.include_router(catalog_api.router)
    app.include_router(cases_api.router)
    app.include_router(public_api.router)
    app.include_router(transfers_api.router)
    app.include_router(federation_api.router)
    app.include_router(field_api.router)
    app.include_router(visits_api.router)
    app.include_router(visits_api.public_router)
    app.include_router(audit_api.router)
    app.include_router(reports_api_router())
    for router in station_work_api_routers():
        app.include_router(router)
    for router in page_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_handlers(app)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(AllowHeader)  # a 405 lists all the path's methods
    app.add_middleware(NulGuard)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=settings.https)
    # Outermost: every audit record of the request carries its id and the client's address.
    app.add_middleware(RequestContextMiddleware)
    return app


def _federation(settings: Settings, runtime: Runtime) -> Relay | None:
    """Load the peers file (if any) and make the relay that delivers the outbox."""
    if not settings.peers_file or runtime.federation is not None:
        return None
    from pathlib import Path

    from yibao.transfers.peers import load_federation

    runtime.federation = load_federation(Path(settings.peers_file), agency=settings.agency)
    if not settings.relay:
        return None
    relay = Relay(runtime)
    runtime.on_outbox = relay.wake
    return relay


def _field_mode(runtime: Runtime) -> None:
    """On a field laptop: seal ID numbers, queue every case change, unlock at sign-in."""
    from yibao.field import crypto, laptop

    if laptop.state(runtime.db) is None:
        return
    crypto.activate(None)  # sealed from now on; readable once a team member signs in
    runtime.field_hook = laptop.enqueue
    runtime.case_no_prefix = "L"
    runtime.on_login = lambda password: laptop.unlock(runtime.db, password)


def reports_api_router() -> APIRouter:
    """JSON reports (trips saved), with the report pages' module."""
    from yibao.reports.views import api_router

    return api_router


STATION_WORK = ("filings", "ratings", "questionnaires", "leads", "disputes", "inspections")


def station_work_api_routers() -> list[APIRouter]:
    """JSON routers of the station-work slices (备案, 好差评, questionnaires, leads, ...)."""
    import importlib

    out: list[APIRouter] = []
    for name in STATION_WORK:
        module = importlib.import_module(f"yibao.{name}.api")
        out.append(module.router)
        out.extend(getattr(module, "extra_routers", ()))
    return out


def page_routers() -> list[APIRouter]:
    """The HTML pages, one router per concept."""
    from yibao.accounts import (
        account_views,
        admin_views,
        second_factor_views,
        sign_in_admin_views,
        views,
    )
    from yibao.audit import views as audit_views
    from yibao.cases import print_views
    from yibao.cases import views as case_views
    from yibao.field import views as field_views
    from yibao.reports import views as report_views
    from yibao.transfers import views as transfer_views
    from yibao.visits import views as visit_views

    return [
        views.router,
        second_factor_views.router,
        account_views.router,
        sign_in_admin_views.router,
        case_views.router,
        print_views.router,
        report_views.router,
        admin_views.router,
        transfer_views.router,
        field_views.router,
        visit_views.router,
        audit_views.router,
        *station_work_page_routers(),
    ]


def station_work_page_routers() -> list[APIRouter]:
    """HTML routers of the station-work slices; importing them also registers case panels."""
    import importlib

    out: list[APIRouter] = []
    for name in STATION_WORK:
        module = importlib.import_module(f"yibao.{name}.views")
        out.append(module.router)
        out.extend(getattr(module, "extra_routers", ()))
    return out


def install_page_handlers(app: FastAPI) -> None:
    """Pages answer a missing session with the login form, CSRF failures with 403."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        request.state.denial_reason = "csrf"  # for the access.denied audit record
        return render(
            request,
            "error.html",
            {
                "message": _(
                    "The form expired or was sent from another site. Reload the page and try again."
                )
            },
            status_code=403,
        )

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, _exc: PageForbidden) -> Response:
        request.state.denial_reason = "forbidden"  # for the access.denied audit record
        return render(
            request,
            "error.html",
            {"message": _("Your role may not open this page.")},
            status_code=403,
        )
