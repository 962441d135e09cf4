"""The public phone page of a questionnaire, from a printed QR code: no login, rate limited, a
signed form token saying which version and station the form was for."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from yibao.cases.lookup import PAUSED_ZH, LookupPaused, bound_of
from yibao.errors import DomainError, NotFound, ValidationFailed
from yibao.questionnaires import responses, service, tokens
from yibao.questionnaires.models import QuestionnaireTemplate, QuestionnaireVersion
from yibao.questionnaires.rules import Definition, QType
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep, client_ip
from yibao.web.templating import templates

router = APIRouter(include_in_schema=False)


def answers_from_form(defn: Definition, form: FormData) -> dict[str, Any]:
    """The answers a form sent: ``q_<id>`` fields (a multiple choice sends several)."""
    out: dict[str, Any] = {}
    for q in defn.questions:
        name = f"q_{q.id}"
        if q.type is QType.MULTIPLE:
            chosen = [str(v) for v in form.getlist(name) if str(v)]
            if chosen:
                out[q.id] = chosen
        else:
            value = form.get(name)
            if isinstance(value, str) and value.strip():
                out[q.id] = value
    return out


def _public_template(
    runtime: Runtime, code: str
) -> tuple[QuestionnaireTemplate, QuestionnaireVersion] | None:
    with runtime.db.session() as session:
        template = session.scalar(
            select(QuestionnaireTemplate).where(
                QuestionnaireTemplate.agency == runtime.agency,
                QuestionnaireTemplate.code == code[:40],
            )
        )
        if template is None or template.current_version is None:
            return None
        return template, service.get_version(session, template, None)


def _public(request: Request, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    base: dict[str, Any] = {
        "message": None,
        "errors": {},
        "values": {},
        "done": False,
        "template": None,
    }
    return templates.TemplateResponse(
        request, "questionnaires/public.html", {**base, **ctx}, status_code=status
    )


def _limited(request: Request, prefix: str) -> bool:
    return request.app.state.public_limiter.hit(f"{prefix}:{client_ip(request) or '?'}") is not None


def _public_station(runtime: Runtime, code: str, s: str | None, k: str | None) -> str | None:
    if (
        s
        and k
        and tokens.station_ok(runtime.settings.secret_key, runtime.agency, code, s[:16], k[:40])
    ):
        return s[:16]
    return None


@router.get("/public/questionnaires/{code}")
def public_form(
    request: Request,
    code: str,
    runtime: RuntimeDep,
    s: Annotated[str | None, Query(max_length=16)] = None,
    k: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The questionnaire on a phone, from a printed QR code; no login."""
    if _limited(request, "qform"):
        return _public(request, {"message": "访问过于频繁，请一分钟后再试。"}, 429)
    found = _public_template(runtime, code)
    if found is None:
        return _public(request, {"message": "该问卷不存在或已停止填写。"}, 404)
    template, version = found
    station = _public_station(runtime, template.code, s, k)
    if s and station is None:
        return _public(request, {"message": "二维码无效，请向工作人员索取新的二维码。"}, 404)
    return _public_page(request, runtime, template, version, station, {}, {}, None)


def _public_page(
    request: Request,
    runtime: Runtime,
    template: QuestionnaireTemplate,
    version: QuestionnaireVersion,
    station: str | None,
    values: dict[str, Any],
    errors: dict[str, str],
    message: str | None,
    status: int = 200,
) -> HTMLResponse:
    token = tokens.issue(
        runtime.settings.secret_key,
        tokens.FormToken(template.id, version.version, station, uuid.uuid4(), int(time.time())),
    )
    return _public(
        request,
        {
            "template": template,
            "definition": service.definition(version),
            "station_name": runtime.reference().unit_names.get(station or "", ""),
            "token": token,
            "values": values,
            "errors": errors,
            "message": message,
            "action": str(request.url.path)
            + (f"?{request.url.query}" if request.url.query else ""),
        },
        status,
    )


@router.post("/public/questionnaires/{code}")
async def public_submit(request: Request, code: str, runtime: RuntimeDep) -> Response:
    """Save a phone's response; the form token says which version and station it was for."""
    if _limited(request, "qsend"):
        return _public(request, {"message": "提交过于频繁，请一分钟后再试。"}, 429)
    form = await request.form()
    token = tokens.read(
        runtime.settings.secret_key, str(form.get("token") or "")[:400], now=int(time.time())
    )
    template, version = None, None
    with runtime.db.session() as session:
        template = session.get(QuestionnaireTemplate, token.template_id) if token else None
        if token and template and template.agency == runtime.agency and template.code == code:
            try:
                version = service.get_version(session, template, token.version)
            except NotFound:
                version = None
    if token is None or template is None or version is None:
        return _public(request, {"message": "表单已过期，请重新扫码或刷新页面后再填写。"}, 400)
    defn = service.definition(version)
    answers = answers_from_form(defn, form)
    consent = form.get("consent") == "yes"
    case_no = str(form.get("case_no") or "").strip()[:20]
    id_tail = str(form.get("id_tail") or "").strip()[:4]

    def submit() -> None:
        with runtime.db.uow() as uow:
            responses.submit_public(
                uow,
                runtime=runtime,
                template_id=template.id,
                version_number=version.version,
                station_code=token.station,
                response_id=token.nonce,
                answers=answers,
                consent=consent,
                case_no=case_no or None,
                id_tail=id_tail or None,
            )

    def wrong_tail(exc: BaseException) -> bool:
        return isinstance(exc, ValidationFailed) and any(e.field == "case_no" for e in exc.errors)

    bound = bound_of(request.app.state)
    try:
        if bound is not None and consent and case_no:
            # Linking a case checks its ID tail: bounded per case like the status lookup.
            bound.attempt(case_no, submit, wrong_tail)
        else:
            submit()
    except LookupPaused:
        values = {**answers, "consent": consent, "case_no": case_no, "id_tail": id_tail}
        return _public_page(
            request,
            runtime,
            template,
            version,
            token.station,
            values,
            {"case_no": PAUSED_ZH},
            PAUSED_ZH,
            429,
        )
    except ValidationFailed as exc:
        errors = {e.field.removeprefix("answers."): e.message_zh or e.message for e in exc.errors}
        values = {**answers, "consent": consent, "case_no": case_no, "id_tail": id_tail}
        return _public_page(
            request,
            runtime,
            template,
            version,
            token.station,
            values,
            errors,
            "请检查标出的题目。",
            422,
        )
    except DomainError:
        return _public(request, {"message": "提交未成功，请刷新页面后重试。"}, 409)
    return _public(request, {"template": template, "done": True})
