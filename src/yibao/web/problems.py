"""One place that turns errors into RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from yibao.web.templating import templates

log = logging.getLogger("yibao.web")

PUBLIC_PREFIX = "/public/"


def public_page_missing(request: Request, status: int) -> Response | None:
    """A citizen's browser asking for a public page that is not there gets a Chinese page with
    a link back to the lookup; API clients (no text/html in Accept) get None: problem+json."""
    path = request.url.path
    if not (path.startswith(PUBLIC_PREFIX) or path == PUBLIC_PREFIX.rstrip("/")):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    return templates.TemplateResponse(request, "public_404.html", {}, status_code=status)

PROBLEM = "application/problem+json"

# Chinese for the Pydantic error types our inputs can produce (the UI shows these).
PYDANTIC_ZH: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "不允许的字段",
    "string_type": "须为文本",
    "string_too_long": "过长",
    "string_too_short": "过短",
    "too_long": "项数过多",
    "list_type": "须为列表",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "bool_parsing": "须为“是”或“否”",
    "date_parsing": "日期格式不正确",
    "date_from_datetime_parsing": "日期格式不正确",
    "datetime_parsing": "时间格式不正确",
    "datetime_from_date_parsing": "时间格式不正确",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "model_attributes_type": "格式不正确",
    "dict_type": "格式不正确",
}

STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    ActionNotAllowed: 422,
    NotFound: 404,
    NotAuthenticated: 401,
    Forbidden: 403,
    RateLimited: 429,
    Conflict: 409,
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: Sequence[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def domain_problem(exc: DomainError) -> JSONResponse:
    """The problem response for a domain error."""
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = [
            {
                "field": e.field,
                "message": e.message,
                **({"message_zh": e.message_zh} if e.message_zh else {}),
            }
            for e in exc.errors
        ]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, RateLimited) and "retry_after" in exc.data:
        headers = {"Retry-After": str(exc.data["retry_after"])}
    extra = {k: v for k, v in exc.data.items() if k not in ("retry_after",)}
    return problem(
        status,
        exc.title,
        exc.detail,
        type_=f"https://yibao.example/problems/{exc.code}",
        errors=errors,
        headers=headers,
        **extra,
    )


def field_path(loc: Sequence[str | int]) -> str:
    """Pydantic's location tuple as a dotted field path: ('body','materials',0) → materials[0]."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, Forbidden | NotFound):
            request.state.denial_reason = exc.code  # for the access.denied audit record
        if isinstance(exc, NotFound):
            page = public_page_missing(request, 404)
            if page is not None:
                return page
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if any(e.get("type") == "json_invalid" for e in raw):
            return problem(
                400,
                "Malformed JSON",
                "the request body is not valid JSON",
                type_="https://yibao.example/problems/malformed_json",
                errors=[{"field": "body", "message": "not valid JSON"}],
            )
        errors = [
            {
                "field": field_path(e["loc"]),
                "message": e["msg"],
                "message_zh": PYDANTIC_ZH.get(e.get("type", ""), "输入不正确"),
            }
            for e in raw
        ]
        return problem(
            422,
            "Invalid input",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            type_="https://yibao.example/problems/validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):  # 405: a browser's GET on a POST-only public path
            page = public_page_missing(request, exc.status_code)
            if page is not None:
                return page
        return problem(
            exc.status_code,
            str(exc.detail) if exc.status_code != 404 else "Not found",
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
