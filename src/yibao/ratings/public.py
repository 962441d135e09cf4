"""The citizen's rating on the phone page: no login, case number + ID tail, a signed form token.

``POST /public/cases/{case_no}/rating`` takes the phone page's form (with the form token the
page was given after the tail check) or a JSON body with ``id_tail`` (no form token: a JSON
body cannot be sent across sites without CORS). Both are counted by the public rate limiter and
answer the same 404 for an unknown case and a wrong tail. A rated form is answered with the case
page itself (thanks included), not a redirect: a redirect would have to put the tail in a URL.

Importing this module adds the rating to every citizen's view (``cases.public`` sections), so
the case package never imports the rating slice.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from yibao.cases.lookup import MAX_CASE_NO, bound_of
from yibao.cases.public import public_status, register_page_context, register_section
from yibao.errors import Conflict, DomainError, NotFound, RateLimited, ValidationFailed
from yibao.ratings import rules, service
from yibao.ratings.models import Rating
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep, client_ip
from yibao.web.openapi import html_page
from yibao.web.problems import domain_problem
from yibao.web.templating import templates

public_router = APIRouter(prefix="/public", tags=["public"])

_FORM_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

register_section(
    "rating",
    lambda session, runtime, case: service.public_rating(session, runtime=runtime, case=case),
)
_FIELDS = (*rules.INDICATORS, "comment")


def level_choices() -> list[tuple[int, str]]:
    """The five levels, best first, with their Chinese names."""
    return [(level, zh) for level, (zh, _en) in rules.LEVELS.items()]


def indicator_choices() -> list[tuple[str, str]]:
    """The indicators asked, with their Chinese names."""
    return [(name, zh) for name, (zh, _en) in rules.INDICATORS.items()]


def rating_form_context(
    runtime: Runtime, *, case_no: str, id_tail: str, rated: bool = False
) -> dict[str, Any]:
    """What the phone page needs to offer the rating form (after a correct tail)."""
    return {
        "rating_token": service.form_token(
            runtime.settings.secret_key, case_no=case_no, id_tail=id_tail, now=runtime.now()
        ),
        "id_tail": id_tail.strip().upper(),
        "rated": rated,
        "levels": level_choices(),
        "indicators": indicator_choices(),
        "rating_errors": {},
        "rating_values": {},
        "comment_max": rules.COMMENT_MAX,
    }


register_page_context(
    lambda runtime, case_no, id_tail: rating_form_context(runtime, case_no=case_no, id_tail=id_tail)
)


def _page(
    request: Request,
    runtime: Runtime,
    *,
    case_no: str,
    id_tail: str,
    status_code: int,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    rated: bool = False,
) -> Response:
    view = None
    if status_code != 404:
        with runtime.db.session() as session:
            try:
                view = public_status(session, runtime=runtime, case_no=case_no, id_tail=id_tail)
            except NotFound:
                status_code, message = 404, None
    if view is None:
        message = message or "未找到该办件：请核对办件编号和身份证号后四位。"
    context: dict[str, Any] = {
        "case_no": case_no,
        "view": view,
        "message": message if view is None else None,
        "rating_message": message if view is not None else None,
        "asked": True,
    }
    if view is not None:
        context.update(rating_form_context(runtime, case_no=case_no, id_tail=id_tail, rated=rated))
        context.update(rating_errors=errors or {}, rating_values=values or {})
    return templates.TemplateResponse(
        request, "public_case.html", context, status_code=status_code, headers=_FORM_HEADERS
    )


def _form_values(form: FormData) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _FIELDS:
        value = form.get(name)
        out[name] = value if isinstance(value, str) else ""
    return out


@public_router.post(
    "/cases/{case_no}/rating",
    response_model=None,
    responses=html_page("The page (a form), or JSON"),
)
async def rate(request: Request, case_no: str, runtime: RuntimeDep) -> Response:
    """A citizen rates a completed case once (一事一评): the phone page's form, or JSON."""
    wants_json = "application/json" in request.headers.get("content-type", "")
    wait = request.app.state.public_limiter.hit(client_ip(request) or "?")
    if wait is not None:
        limited = RateLimited("too many requests; try again in a minute", retry_after=int(wait))
        if wants_json:
            return domain_problem(limited)
        return templates.TemplateResponse(
            request,
            "public_case.html",
            {"case_no": case_no, "view": None, "message": "操作过于频繁，请一分钟后再试。"},
            status_code=429,
        )
    if wants_json:
        return await _rate_json(request, runtime, case_no)
    return await _rate_form(request, runtime, case_no)


async def _rate_json(request: Request, runtime: Runtime, case_no: str) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return domain_problem(ValidationFailed.single("body", "malformed JSON", "请求格式错误"))
    if not isinstance(body, dict):
        return domain_problem(ValidationFailed.single("body", "a JSON object", "请求格式错误"))
    tail = body.get("id_tail")
    if not isinstance(tail, str) or not tail.strip():
        return domain_problem(
            ValidationFailed.single(
                "id_tail", "enter the last 4 characters of the ID number", "请输入身份证号后四位"
            )
        )
    unknown = sorted(set(body) - {*_FIELDS, "id_tail"})
    if unknown:
        return domain_problem(ValidationFailed.single(unknown[0], "unknown field", "不认识的字段"))
    try:
        if len(case_no) > MAX_CASE_NO:
            raise NotFound("no case matches this number and ID tail")
        bound = bound_of(request.app.state)

        def check() -> Rating:
            with runtime.db.uow() as uow:
                return service.rate_public(
                    uow,
                    runtime=runtime,
                    case_no=case_no,
                    id_tail=tail,
                    raw=body,
                    ip=client_ip(request),
                )

        # The tail is a guess here (no form token): bounded per case like the lookup.
        rating = bound.attempt(case_no, check) if bound else check()
    except DomainError as exc:
        return domain_problem(exc)
    return JSONResponse(service.rating_dict(rating, public=True), status_code=201)


async def _rate_form(request: Request, runtime: Runtime, case_no: str) -> Response:
    form = await request.form()
    raw_tail = form.get("id_tail")
    tail = raw_tail.strip().upper() if isinstance(raw_tail, str) else ""
    raw_token = form.get("form_token")
    token = raw_token if isinstance(raw_token, str) else ""
    values = _form_values(form)
    if len(case_no) > MAX_CASE_NO or not tail:
        return _page(request, runtime, case_no=case_no[:MAX_CASE_NO], id_tail="", status_code=404)
    if not service.check_form_token(
        runtime.settings.secret_key, case_no=case_no, id_tail=tail, token=token, now=runtime.now()
    ):
        return _page(
            request,
            runtime,
            case_no=case_no,
            id_tail=tail,
            status_code=403,
            message="页面已过期，请重新提交评价。",
            values=values,
        )
    raw: dict[str, Any] = {k: v for k, v in values.items()}
    try:
        with runtime.db.uow() as uow:
            service.rate_public(
                uow,
                runtime=runtime,
                case_no=case_no,
                id_tail=tail,
                raw=raw,
                ip=client_ip(request),
            )
    except NotFound:
        return _page(request, runtime, case_no=case_no, id_tail=tail, status_code=404)
    except Conflict:
        return _page(
            request,
            runtime,
            case_no=case_no,
            id_tail=tail,
            status_code=409,
            message="该办件已评价过，每件只能评价一次。",
        )
    except ValidationFailed as exc:
        errors: dict[str, str] = {}
        for e in exc.errors:
            errors.setdefault(e.field, e.message_zh or e.message)
        return _page(
            request,
            runtime,
            case_no=case_no,
            id_tail=tail,
            status_code=422,
            message=errors.pop("case", None) or "请完成标记的项目后再提交。",
            errors=errors,
            values=values,
        )
    return _page(request, runtime, case_no=case_no, id_tail=tail, status_code=200, rated=True)
