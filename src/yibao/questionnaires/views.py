"""HTML pages of questionnaires: templates and versions, filling in at the window or on a visit,
results with charts and the Excel export, and the public phone page from a QR code."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from yibao.accounts.rules import Actor, Role
from yibao.cases.panels import register
from yibao.cases.printables import qr_svg
from yibao.errors import DomainError, NotFound, ValidationFailed
from yibao.questionnaires import export, public, responses, results, rules, service, tokens
from yibao.questionnaires.models import QuestionnaireTemplate, QuestionnaireVersion
from yibao.questionnaires.public import answers_from_form
from yibao.questionnaires.responses import ResponseIn
from yibao.questionnaires.results import ResultFilter
from yibao.questionnaires.rules import Kind, QType
from yibao.questionnaires.service import TemplateIn, VersionIn
from yibao.runtime import Runtime
from yibao.stations.models import Station, Town
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    CsrfDep,
    PageActor,
    error_message,
    field_errors,
    pydantic_errors,
    render,
    require_roles,
)

router = APIRouter(include_in_schema=False)
extra_routers = [public.router]

READERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR)
KIND_LABELS = {
    "awareness": "Policy awareness",
    "procedure": "Business procedure",
    "evaluation": "Policy evaluation",
}
STATE_LABELS = {"draft": "Draft", "published": "In use", "retired": "Retired"}
CHANNEL_LABELS = {"window": "At the window", "mobile": "Mobile visit", "qr": "QR code"}
TYPE_LABELS = {
    "single": "Single choice",
    "multiple": "Multiple choice",
    "scale": "Scale 1–5",
    "text": "Free text",
}
Q = Annotated[str | None, Query(max_length=50)]
EXAMPLE = """title: 新问卷标题
description: 问卷说明（可选）
questions:
  - id: q1
    type: single        # single 单选 | multiple 多选 | scale 1-5分 | text 文字
    text: 第一题题目
    options: [选项一, 选项二, 选项三]
  - id: q2
    type: scale
    text: 第二题题目
    low: 很不满意
    high: 非常满意
  - id: q3
    type: text
    text: 您的意见和建议
    required: false
"""


def _common() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "state_labels": STATE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "type_labels": TYPE_LABELS,
    }


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip()) if (raw or "").strip() else None
    except ValueError:
        return None


def _int(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _not_found(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"title": _("Not found"), "message": _("There is no such questionnaire.")},
        status_code=404,
    )


def _failure(exc: DomainError) -> tuple[dict[str, str], str]:
    return field_errors(exc), error_message(exc)


# ---------------------------------------------------------------- the list


@router.get("/questionnaires")
def index(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The agency's questionnaires; a supervisor may load the standard ones on an empty node."""
    require_roles(actor, *READERS)
    per = 20
    with runtime.db.session() as session:
        rows, total = service.list_templates(
            session, actor=actor, limit=per, offset=(page - 1) * per
        )
        counts = {t.code: sum(service.counts_by_version(session, t).values()) for t in rows}
    ctx = {
        **_common(),
        "rows": rows,
        "counts": counts,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per)),
        "can_manage": service.can_manage(actor),
        "can_take": service.can_take(actor),
        "can_load": actor.role is Role.SUPERVISOR and total == 0,
        "done": request.query_params.get("done"),
    }
    return render(request, "questionnaires/index.html", ctx)


@router.post("/questionnaires/load-standard")
def load_standard(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Load the three standard templates (supervisors, on a node with none)."""
    require_roles(actor, Role.SUPERVISOR)
    try:
        with runtime.db.uow() as uow:
            service.load_standard(uow, runtime=runtime, actor=actor)
    except DomainError as exc:
        return render(request, "error.html", {"message": error_message(exc)}, status_code=409)
    return RedirectResponse("/questionnaires?done=loaded", status_code=303)


# ---------------------------------------------------------------- writing templates


def _editor(
    request: Request,
    *,
    template: QuestionnaireTemplate | None,
    values: dict[str, str],
    errors: dict[str, str],
    message: str | None,
    status: int = 200,
) -> HTMLResponse:
    ctx = {
        **_common(),
        "template": template,
        "values": values,
        "errors": errors,
        "message": message,
        "kinds": [k.value for k in Kind],
        "example": EXAMPLE,
    }
    return render(request, "questionnaires/edit.html", ctx, status_code=status)


def _definition_errors(errors: dict[str, str]) -> dict[str, str]:
    """Errors of the definition's parts shown above the editor, each with its path."""
    out: dict[str, str] = {}
    for name, msg in errors.items():
        if name in ("code", "kind", "note"):
            out[name] = msg
        else:
            out.setdefault("definition", "")
            out["definition"] += ("；" if out["definition"] else "") + f"{name}: {msg}"
    return out


@router.get("/questionnaires/new")
def new_template(request: Request, actor: PageActor) -> HTMLResponse:
    """A new template: code, kind and the first version's questions (YAML or JSON)."""
    require_roles(actor, Role.SUPERVISOR, Role.BUREAU_OFFICER)
    return _editor(
        request,
        template=None,
        values={"definition": EXAMPLE, "kind": "awareness"},
        errors={},
        message=None,
    )


@router.post("/questionnaires/new")
async def create_template(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Save the new template's first version as a draft."""
    require_roles(actor, Role.SUPERVISOR, Role.BUREAU_OFFICER)
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("code", "kind", "definition", "note")}
    try:
        raw = service.parse_source(values["definition"])
        body = TemplateIn(
            code=values["code"].strip(),
            kind=values["kind"].strip(),
            definition=raw,
            note=values["note"] or None,
        )
        with runtime.db.uow() as uow:
            service.create_template(uow, runtime=runtime, actor=actor, request=body)
        return RedirectResponse(f"/questionnaires/{body.code}?done=draft", status_code=303)
    except ValidationError as exc:
        errors, message = _failure(pydantic_errors(exc.errors()))  # type: ignore[arg-type]
    except DomainError as exc:
        errors, message = _failure(exc)
    return _editor(
        request,
        template=None,
        values=values,
        errors=_definition_errors(errors),
        message=message,
        status=422,
    )


@router.get("/questionnaires/{code}/edit")
def edit_template(request: Request, code: str, runtime: RuntimeDep, actor: PageActor) -> Response:
    """Edit a template: the open draft, else a new version starting from the newest one."""
    require_roles(actor, Role.SUPERVISOR, Role.BUREAU_OFFICER)
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
        except NotFound:
            return _not_found(request)
        newest = service.versions(session, template)[0]
    return _editor(
        request,
        template=template,
        values={
            "definition": service.to_source(newest.definition),
            "note": newest.note or "" if newest.state == "draft" else "",
        },
        errors={},
        message=None,
    )


@router.post("/questionnaires/{code}/edit")
async def save_template(
    request: Request, code: str, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Save the draft version (a published version never changes)."""
    require_roles(actor, Role.SUPERVISOR, Role.BUREAU_OFFICER)
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("definition", "note")}
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
        except NotFound:
            return _not_found(request)
    try:
        body = VersionIn(
            definition=service.parse_source(values["definition"]), note=values["note"] or None
        )
        with runtime.db.uow() as uow:
            version = service.save_draft(
                uow, runtime=runtime, actor=actor, code=template.code, request=body
            )
        return RedirectResponse(
            f"/questionnaires/{template.code}?version={version.version}&done=draft",
            status_code=303,
        )
    except ValidationError as exc:
        errors, message = _failure(pydantic_errors(exc.errors()))  # type: ignore[arg-type]
    except DomainError as exc:
        errors, message = _failure(exc)
    return _editor(
        request,
        template=template,
        values=values,
        errors=_definition_errors(errors),
        message=message,
        status=422,
    )


@router.post("/questionnaires/{code}/versions/{number}/{action}")
def version_action(
    request: Request,
    code: str,
    number: int,
    action: str,
    runtime: RuntimeDep,
    actor: PageActor,
    _csrf: CsrfDep,
) -> Response:
    """Publish a draft or retire a published version."""
    require_roles(actor, Role.SUPERVISOR, Role.BUREAU_OFFICER)
    use = {"publish": service.publish, "retire": service.retire}.get(action)
    if use is None:
        return _not_found(request)
    try:
        with runtime.db.uow() as uow:
            use(uow, runtime=runtime, actor=actor, code=code, number=number)
    except NotFound:
        return _not_found(request)
    except DomainError as exc:
        return render(request, "error.html", {"message": error_message(exc)}, status_code=422)
    return RedirectResponse(
        f"/questionnaires/{code}?version={number}&done={action}", status_code=303
    )


# ---------------------------------------------------------------- one template


def _stations(session: Any, actor: Actor) -> list[Station]:
    stmt = select(Station).where(Station.agency == actor.agency, Station.active)
    if not actor.agency_wide:
        stmt = stmt.where(Station.code == actor.unit)
    return list(session.scalars(stmt.order_by(Station.code)))


@router.get("/questionnaires/{code}")
def template_page(
    request: Request,
    code: str,
    runtime: RuntimeDep,
    actor: PageActor,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """A template: its versions, the questions of one, where to fill it in, its QR code."""
    require_roles(actor, *READERS)
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
            shown = service.get_version(session, template, version)
        except NotFound:
            return _not_found(request)
        all_versions = service.versions(session, template)
        counts = service.counts_by_version(session, template)
        stations = _stations(session, actor)
    ctx = {
        **_common(),
        "template": template,
        "shown": shown,
        "definition": service.definition(shown),
        "versions": all_versions,
        "counts": counts,
        "actions": rules.allowed_actions(rules.VersionState(shown.state)),
        "can_manage": service.can_manage(actor),
        "can_take": service.can_take(actor) and template.current_version is not None,
        "stations": stations,
        "done": request.query_params.get("done"),
    }
    return render(request, "questionnaires/template.html", ctx)


def _public_link(request: Request, runtime: Runtime, code: str, station: str | None) -> str:
    base = runtime.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    url = f"{base}/public/questionnaires/{code}"
    if station:
        key = tokens.station_key(runtime.settings.secret_key, runtime.agency, code, station)
        url += "?" + urlencode({"s": station, "k": key})
    return url


@router.get("/questionnaires/{code}/qr")
def qr_page(
    request: Request, code: str, runtime: RuntimeDep, actor: PageActor, station: Q = None
) -> Response:
    """A printable sheet with the QR code of the phone form for one station."""
    require_roles(actor, *READERS)
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
        except NotFound:
            return _not_found(request)
        allowed = {s.code: s.name for s in _stations(session, actor)}
    chosen = station or (actor.unit if not actor.agency_wide else None)
    if chosen and chosen not in allowed:
        return _not_found(request)
    url = _public_link(request, runtime, template.code, chosen)
    ctx = {
        "template": template,
        "station_name": allowed.get(chosen or "", ""),
        "url": url,
        "qr": qr_svg(url, size_mm=70),
        "can_answer": template.current_version is not None,
    }
    return render(request, "questionnaires/qr.html", ctx)


# ---------------------------------------------------------------- filling in


def _answer_errors(errors: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix("answers."): v for k, v in errors.items()}


def _fill_context(
    runtime: Runtime, actor: Actor, code: str
) -> tuple[QuestionnaireTemplate, QuestionnaireVersion, str]:
    with runtime.db.session() as session:
        template = service.get_template(session, actor=actor, code=code)
        if template.current_version is None:
            raise ValidationFailed.single(
                "version", "no version in use", "该问卷没有正在使用的版本"
            )
        version = service.get_version(session, template, None)
        station = session.scalar(
            select(Station.name).where(Station.agency == actor.agency, Station.code == actor.unit)
        )
    return template, version, station or ""


@router.get("/questionnaires/{code}/fill")
def fill_page(request: Request, code: str, runtime: RuntimeDep, actor: PageActor) -> Response:
    """The form a clerk fills in with the person (at the window or on a visit)."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
    try:
        template, version, station = _fill_context(runtime, actor, code)
    except NotFound:
        return _not_found(request)
    except ValidationFailed as exc:
        return render(request, "error.html", {"message": error_message(exc)}, status_code=409)
    return _fill(
        request, template, version, station, {}, {}, None, done=request.query_params.get("done")
    )


def _fill(
    request: Request,
    template: QuestionnaireTemplate,
    version: QuestionnaireVersion,
    station: str,
    values: dict[str, Any],
    errors: dict[str, str],
    message: str | None,
    *,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = {
        **_common(),
        "template": template,
        "version": version,
        "definition": service.definition(version),
        "station_name": station,
        "values": values,
        "errors": errors,
        "message": message,
        "client_id": str(uuid.uuid4()),
        "done": done,
    }
    return render(request, "questionnaires/fill.html", ctx, status_code=status)


@router.post("/questionnaires/{code}/fill")
async def fill_submit(
    request: Request, code: str, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Save the response; a case is linked only with the consent box ticked."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
    form = await request.form()
    try:
        template, current, station = _fill_context(runtime, actor, code)
    except NotFound:
        return _not_found(request)
    except ValidationFailed as exc:
        return render(request, "error.html", {"message": error_message(exc)}, status_code=409)
    number = _int(str(form.get("version") or "")) or current.version
    with runtime.db.session() as session:
        try:
            version = service.get_version(session, template, number)
        except NotFound:
            version = current
    defn = service.definition(version)
    answers = answers_from_form(defn, form)
    consent = form.get("consent") == "yes"
    case_no = str(form.get("case_no") or "").strip()
    values: dict[str, Any] = {**answers, "consent": consent, "case_no": case_no}
    try:
        client = uuid.UUID(str(form.get("client_id") or ""))
    except ValueError:
        client = uuid.uuid4()
    try:
        body = ResponseIn(
            version=version.version,
            answers=answers,
            consent=consent,
            case_no=case_no[:20] or None,
            client_id=client,
        )
        with runtime.db.uow() as uow:
            responses.submit(uow, runtime=runtime, actor=actor, code=template.code, request=body)
        return RedirectResponse(f"/questionnaires/{template.code}/fill?done=1", status_code=303)
    except ValidationError as exc:
        errors, message = _failure(pydantic_errors(exc.errors()))  # type: ignore[arg-type]
    except DomainError as exc:
        errors, message = _failure(exc)
    return _fill(
        request,
        template,
        version,
        station,
        values,
        _answer_errors(errors),
        message,
        status=422,
    )


# ---------------------------------------------------------------- results


def _result_filters(
    station: str | None, town: str | None, date_from: str | None, date_to: str | None
) -> tuple[ResultFilter, dict[str, str]]:
    errors: dict[str, str] = {}
    start, end = _date(date_from), _date(date_to)
    if date_from and start is None:
        errors["from"] = _("Not a date (YYYY-MM-DD).")
    if date_to and end is None:
        errors["to"] = _("Not a date (YYYY-MM-DD).")
    return ResultFilter(station or None, town or None, start, end), errors


def _names(session: Any, agency: str) -> tuple[dict[str, str], dict[str, str]]:
    stations = {
        s.code: s.name for s in session.scalars(select(Station).where(Station.agency == agency))
    }
    towns = {t.code: t.name for t in session.scalars(select(Town).where(Town.agency == agency))}
    return stations, towns


@router.get("/questionnaires/{code}/results")
def results_page(
    request: Request,
    code: str,
    runtime: RuntimeDep,
    actor: PageActor,
    version: Q = None,
    station: Q = None,
    town: Q = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=20)] = None,
    text_q: Annotated[str | None, Query(max_length=32)] = None,
    text_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Results of one version: charts, counts, means and the free-text answers (paged)."""
    require_roles(actor, *READERS)
    filters, errors = _result_filters(station, town, date_from, date_to)
    number = _int(version)
    if version and number is None:
        errors["version"] = _("A whole number.")
    query = {
        k: v
        for k, v in {
            "version": version or "",
            "station": station or "",
            "town": town or "",
            "from": date_from or "",
            "to": date_to or "",
        }.items()
        if v
    }
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
            all_versions = service.versions(session, template)
            service.get_version(session, template, number)
        except NotFound:
            return _not_found(request)
        station_names, town_names = _names(session, actor.agency)
        found = None
        text_pages: dict[str, dict[str, Any]] = {}
        if not errors:
            try:
                found = results.results(
                    session, actor=actor, code=code, version=number, filters=filters
                )
                for r in found.questions:
                    if r.question.type is QType.TEXT:
                        page = text_page if text_q == r.question.id else 1
                        rows, total = results.texts(
                            session,
                            actor=actor,
                            code=code,
                            version=found.version.version,
                            question=r.question.id,
                            filters=filters,
                            page=page,
                        )
                        text_pages[r.question.id] = {
                            "rows": rows,
                            "total": total,
                            "page": page,
                            "pages": max(1, -(-total // results.TEXT_PAGE)),
                        }
            except ValidationFailed as exc:
                errors = field_errors(exc)
        stations = _stations(session, actor)
        towns = sorted(
            {(s.town_code, town_names.get(s.town_code, "")) for s in stations if s.town_code},
            key=lambda t: t[0],
        )
    chart = (
        [
            {
                "id": r.question.id,
                "type": r.question.type.value,
                "labels": [o.label for o in r.options],
                "counts": [o.count for o in r.options],
            }
            for r in found.questions
            if r.question.type is not QType.TEXT
        ]
        if found
        else []
    )
    ctx = {
        **_common(),
        "template": template,
        "versions": all_versions,
        "found": found,
        "errors": errors,
        "form": {
            "version": str(found.version.version) if found else (version or ""),
            "station": station or "",
            "town": town or "",
            "from": date_from or "",
            "to": date_to or "",
        },
        "stations": stations,
        "towns": towns,
        "station_names": station_names,
        "chart": chart,
        "text_pages": text_pages,
        "query": urlencode(query),
        "export_url": f"/questionnaires/{template.code}/results.xlsx?"
        + urlencode({**query, "version": str(found.version.version) if found else ""}),
        "agency_wide": actor.agency_wide,
    }
    return render(request, "questionnaires/results.html", ctx, status_code=422 if errors else 200)


@router.get("/questionnaires/{code}/results.xlsx")
def results_export(
    request: Request,
    code: str,
    runtime: RuntimeDep,
    actor: PageActor,
    version: Q = None,
    station: Q = None,
    town: Q = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    """The results and every response of one version as an Excel workbook."""
    require_roles(actor, *READERS)
    filters, errors = _result_filters(station, town, date_from, date_to)
    number = _int(version)
    if errors or (version and number is None):
        return render(
            request,
            "error.html",
            {"message": _("Please correct the marked fields.")},
            status_code=422,
        )
    with runtime.db.session() as session:
        try:
            found = results.results(
                session, actor=actor, code=code, version=number, filters=filters
            )
        except NotFound:
            return _not_found(request)
        except ValidationFailed as exc:
            return render(
                request,
                "error.html",
                {"message": "; ".join(field_errors(exc).values())},
                status_code=422,
            )
        station_names, town_names = _names(session, actor.agency)
        body = export.workbook(
            found,
            results.responses(session, found),
            station_names=station_names,
            town_names=town_names,
        )
    name = f"questionnaire-{found.template.code}-v{found.version.version}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/questionnaires/{code}/responses/{response_id}")
def response_page(
    request: Request, code: str, response_id: str, runtime: RuntimeDep, actor: PageActor
) -> Response:
    """One response, shown with the questions of the version it answered."""
    require_roles(actor, *READERS)
    try:
        rid = uuid.UUID(response_id)
    except ValueError:
        return _not_found(request)
    with runtime.db.session() as session:
        try:
            template = service.get_template(session, actor=actor, code=code)
            row, version = responses.get_response(session, actor=actor, code=code, response_id=rid)
        except NotFound:
            return _not_found(request)
        station_names, town_names = _names(session, actor.agency)
    defn = service.definition(version)
    ctx = {
        **_common(),
        "template": template,
        "response": row,
        "version": version,
        "items": [(q, rules.answer_text(q, row.answers.get(q.id))) for q in defn.questions],
        "station_name": station_names.get(row.station_code or "", ""),
        "town_name": town_names.get(row.town_code or "", ""),
    }
    return render(request, "questionnaires/response.html", ctx)


# ---------------------------------------------------------------- the case page


@register
def case_panel(
    session: Any, runtime: Runtime, actor: Actor, case: Any
) -> tuple[str, dict[str, Any]] | None:
    """Questionnaires the person agreed to link to this case."""
    rows = responses.responses_for_case(session, actor=actor, case_no=case.case_no)
    if not rows:
        return None
    return (
        "questionnaires/_case_panel.html",
        {"rows": [{"response": r, "template": t} for r, t in rows]},
    )
