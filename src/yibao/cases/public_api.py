"""The citizen's status page: no login; JSON for clients, a phone page for browsers.

A browser never carries the ID tail in a URL: the page (opened from the receipt's QR code,
which holds only the case number) asks for it in a form that POSTs, and answers the POST with
the case itself, so the tail stays out of the address bar, the history and the access logs.
JSON clients keep ``GET /public/cases/{case_no}?id_tail=NNNN`` (DESIGN.md §7).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from yibao.cases.lookup import MAX_CASE_NO, PAUSED_ZH, LookupPaused, bound_of
from yibao.cases.public import page_context, public_status
from yibao.errors import NotFound, RateLimited, ValidationFailed
from yibao.web.deps import RuntimeDep, SessionDep, client_ip
from yibao.web.openapi import html_page
from yibao.web.problems import domain_problem
from yibao.web.templating import templates

router = APIRouter(prefix="/public", tags=["public"])

# The page holds personal data once the tail matched: no cache may keep it, and no link on it
# may tell another site which case was open.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _lookup(
    request: Request, runtime: RuntimeDep, session: SessionDep, case_no: str, id_tail: str | None
) -> tuple[dict[str, Any] | None, RateLimited | ValidationFailed | NotFound | None]:
    """Check the tail (rate limited); the citizen's view, or the error to answer."""
    if not id_tail:
        return None, ValidationFailed.single(
            "id_tail", "enter the last 4 characters of the ID number", "请输入身份证号后四位"
        )
    wait = request.app.state.public_limiter.hit(client_ip(request) or "?")
    if wait is not None:
        return None, RateLimited("too many lookups; try again in a minute", retry_after=int(wait))
    bound = bound_of(request.app.state)

    def check() -> dict[str, Any]:
        return public_status(session, runtime=runtime, case_no=case_no, id_tail=id_tail)

    try:
        return (bound.attempt(case_no, check) if bound else check()), None
    except (NotFound, RateLimited) as exc:
        return None, exc


def _page(
    request: Request,
    runtime: RuntimeDep,
    *,
    case_no: str,
    id_tail: str | None,
    view: dict[str, Any] | None,
    error: Exception | None,
) -> Response:
    status = 200
    message = None
    if isinstance(error, LookupPaused):
        status, message = 429, PAUSED_ZH
    elif isinstance(error, RateLimited):
        status, message = 429, "查询过于频繁，请一分钟后再试。"
    elif isinstance(error, NotFound):
        status, message = 404, "未找到该办件：请核对办件编号和身份证号后四位。"
    elif isinstance(error, ValidationFailed) and id_tail is not None:
        status, message = 422, "请输入身份证号后四位。"
    context: dict[str, Any] = {
        "case_no": case_no[:MAX_CASE_NO] if view is None else view["case_no"],
        "view": view,
        "message": message,
        "asked": bool(id_tail),
    }
    if view is not None and id_tail:
        context.update(page_context(runtime, case_no=view["case_no"], id_tail=id_tail))
    return templates.TemplateResponse(
        request, "public_case.html", context, status_code=status, headers=PRIVATE_HEADERS
    )


@router.get("/cases/{case_no}", response_model=None, responses=html_page())
def public_case(
    request: Request,
    case_no: str,
    runtime: RuntimeDep,
    session: SessionDep,
    id_tail: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """A case's state for the citizen: case number + last 4 characters of the ID number."""
    if _wants_json(request):
        view, error = _lookup(request, runtime, session, case_no, id_tail)
        if view is not None:
            return JSONResponse(view, headers=PRIVATE_HEADERS)
        assert error is not None
        return domain_problem(error)
    # A browser (the QR code's link): the form that asks for the tail. An old link that still
    # carries ?id_tail= is answered as before, but no page of ours makes one.
    view, error = (
        (None, None) if not id_tail else _lookup(request, runtime, session, case_no, id_tail)
    )
    return _page(request, runtime, case_no=case_no, id_tail=id_tail, view=view, error=error)


@router.post("/cases/{case_no}", response_model=None, responses=html_page("The page"))
def public_case_form(
    request: Request,
    case_no: str,
    runtime: RuntimeDep,
    session: SessionDep,
    id_tail: Annotated[str, Form()] = "",
) -> Response:
    """The phone page's lookup: the tail comes in the form body, never in the URL."""
    view, error = _lookup(request, runtime, session, case_no, id_tail.strip())
    return _page(request, runtime, case_no=case_no, id_tail=id_tail.strip(), view=view, error=error)


@router.post("/cases", response_model=None, responses=html_page("The page"))
def public_lookup_form(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    case_no: Annotated[str, Form()] = "",
    id_tail: Annotated[str, Form()] = "",
) -> Response:
    """The lookup for people who type their case number: both fields in the form body."""
    number = case_no.strip()
    view, error = _lookup(request, runtime, session, number, id_tail.strip())
    return _page(request, runtime, case_no=number, id_tail=id_tail.strip(), view=view, error=error)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def public_index(request: Request) -> Response:
    """A lookup form for people who type their case number."""
    return templates.TemplateResponse(
        request, "public_case.html", {"case_no": "", "view": None, "message": None, "asked": False}
    )
