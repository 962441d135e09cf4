"""The citizen's status page: no login; JSON for clients, a phone page for browsers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from yibao.cases.public import public_status
from yibao.errors import NotFound, RateLimited, ValidationFailed
from yibao.web.deps import RuntimeDep, SessionDep, client_ip
from yibao.web.problems import domain_problem
from yibao.web.templating import templates

router = APIRouter(prefix="/public", tags=["public"])


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/cases/{case_no}", response_model=None)
def public_case(
    request: Request,
    case_no: str,
    runtime: RuntimeDep,
    session: SessionDep,
    id_tail: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """A case's state for the citizen: case number + last 4 characters of the ID number."""
    wants_json = _wants_json(request)
    limiter = request.app.state.public_limiter
    wait = limiter.hit(client_ip(request) or "?")
    error: Exception | None = None
    view: dict[str, Any] | None = None
    if wait is not None:
        error = RateLimited("too many lookups; try again in a minute", retry_after=int(wait))
    elif not id_tail:
        error = ValidationFailed.single("id_tail", "enter the last 4 characters of the ID number")
    else:
        try:
            view = public_status(session, runtime=runtime, case_no=case_no, id_tail=id_tail)
        except NotFound as exc:
            error = exc
    if wants_json:
        if view is not None:
            return JSONResponse(view)
        assert isinstance(error, RateLimited | ValidationFailed | NotFound)
        return domain_problem(error)
    status = 200
    message = None
    if isinstance(error, RateLimited):
        status, message = 429, "查询过于频繁，请一分钟后再试。"
    elif isinstance(error, NotFound):
        status, message = 404, "未找到该办件：请核对办件编号和身份证号后四位。"
    context: dict[str, Any] = {
        "case_no": case_no,
        "view": view,
        "message": message,
        "asked": bool(id_tail),
    }
    if view is not None and id_tail:
        from yibao.ratings.public import rating_form_context

        context.update(rating_form_context(request, runtime, case_no=case_no, id_tail=id_tail))
    return templates.TemplateResponse(request, "public_case.html", context, status_code=status)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def public_index(request: Request) -> Response:
    """A lookup form for people who type their case number."""
    return templates.TemplateResponse(
        request, "public_case.html", {"case_no": "", "view": None, "message": None, "asked": False}
    )
