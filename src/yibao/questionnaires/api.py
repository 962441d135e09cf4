"""JSON adapters of questionnaires under /api/v1/questionnaires."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from yibao.questionnaires import responses, results, rules, service
from yibao.questionnaires.models import QuestionnaireTemplate, QuestionnaireVersion
from yibao.questionnaires.responses import ResponseIn
from yibao.questionnaires.results import ResultFilter
from yibao.questionnaires.service import TemplateIn, VersionIn
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep

router = APIRouter(prefix="/api/v1/questionnaires", tags=["questionnaires"])

Code = Annotated[str, Path(max_length=40)]
Number = Annotated[int, Path(ge=1, le=100_000)]


def version_dict(v: QuestionnaireVersion, *, content: bool = True) -> dict[str, Any]:
    """A version as the API shows it."""
    out: dict[str, Any] = {
        "version": v.version,
        "state": v.state,
        "title": v.title,
        "note": v.note,
        "created_at": v.created_at.isoformat(),
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "retired_at": v.retired_at.isoformat() if v.retired_at else None,
        "actions": rules.allowed_actions(rules.VersionState(v.state)),
    }
    if content:
        out["definition"] = v.definition
    return out


def template_dict(t: QuestionnaireTemplate) -> dict[str, Any]:
    """A template's summary."""
    return {
        "code": t.code,
        "kind": t.kind,
        "kind_label": rules.KIND_LABELS_ZH.get(rules.Kind(t.kind), t.kind),
        "title": t.title,
        "current_version": t.current_version,
        "updated_at": t.updated_at.isoformat(),
    }


@router.get("")
def list_templates(
    actor: ActorDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Questionnaire templates of the agency (paged)."""
    rows, total = service.list_templates(session, actor=actor, limit=limit, offset=offset)
    nxt = offset + len(rows)
    return {
        "items": [template_dict(t) for t in rows],
        "total": total,
        "next_offset": nxt if nxt < total else None,
    }


@router.post("", status_code=201)
def create_template(
    body: TemplateIn, response: Response, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """A new template with its first version as a draft (supervisors, bureau officers)."""
    version = service.create_template(uow, runtime=runtime, actor=actor, request=body)
    response.headers["Location"] = f"/api/v1/questionnaires/{body.code}"
    return {"code": body.code, **version_dict(version)}


@router.post("/load-standard", status_code=201)
def load_standard(runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Load the three standard templates on a node with none (supervisors)."""
    return {"loaded": service.load_standard(uow, runtime=runtime, actor=actor)}


@router.get("/{code}")
def get_template(
    code: Code,
    actor: ActorDep,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> dict[str, Any]:
    """A template, its versions, and the questions of one version (default: the current)."""
    t = service.get_template(session, actor=actor, code=code)
    shown = service.get_version(session, t, version)
    counts = service.counts_by_version(session, t)
    return {
        **template_dict(t),
        "versions": [
            {**version_dict(v, content=False), "responses": counts.get(v.version, 0)}
            for v in service.versions(session, t)
        ],
        "shown": version_dict(shown),
    }


@router.post("/{code}/versions", status_code=201)
def new_version(
    code: Code, body: VersionIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Edit a template: changes the open draft, else makes a new draft version."""
    v = service.save_draft(uow, runtime=runtime, actor=actor, code=code, request=body)
    return version_dict(v)


@router.post("/{code}/versions/{number}/publish")
def publish(
    code: Code, number: Number, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Publish a draft; the version published before it is retired."""
    return version_dict(
        service.publish(uow, runtime=runtime, actor=actor, code=code, number=number)
    )


@router.post("/{code}/versions/{number}/retire")
def retire(
    code: Code, number: Number, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Stop taking answers with a published version."""
    return version_dict(service.retire(uow, runtime=runtime, actor=actor, code=code, number=number))


@router.post("/{code}/responses", status_code=201)
def submit(
    code: Code,
    body: ResponseIn,
    response: Response,
    runtime: RuntimeDep,
    actor: ActorDep,
    uow: UowDep,
) -> dict[str, Any]:
    """Take a response at the caller's station; resending the same ``client_id`` is harmless
    (200 with the stored response)."""
    taken = responses.submit(uow, runtime=runtime, actor=actor, code=code, request=body)
    if taken.duplicate:
        response.status_code = 200
    with runtime.db.session() as s:
        row, version = responses.get_response(
            s, actor=actor, code=code, response_id=taken.response.id
        )
        return responses.response_dict(row, version, code)


@router.get("/{code}/responses/{response_id}")
def get_response(
    code: Code, response_id: uuid.UUID, actor: ActorDep, session: SessionDep
) -> dict[str, Any]:
    """One response, with the questions of the version it answered."""
    row, version = responses.get_response(session, actor=actor, code=code, response_id=response_id)
    return responses.response_dict(row, version, code)


def _filters(
    station: str | None, town: str | None, date_from: date | None, date_to: date | None
) -> ResultFilter:
    return ResultFilter(station=station, town=town, date_from=date_from, date_to=date_to)


Station = Annotated[str | None, Query(max_length=16)]
TownQ = Annotated[str | None, Query(max_length=12, description="town code")]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]
VersionQ = Annotated[int | None, Query(ge=1, le=100_000)]


@router.get("/{code}/results")
def get_results(
    code: Code,
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    version: VersionQ = None,
    station: Station = None,
    town: TownQ = None,
    date_from: From = None,
    date_to: To = None,
) -> dict[str, Any]:
    """Counts per option, scale means and answers per question of one version."""
    found = results.results(
        session,
        actor=actor,
        code=code,
        version=version,
        filters=_filters(station, town, date_from, date_to),
    )
    return results.results_dict(found, station_names=runtime.reference().unit_names)


@router.get("/{code}/texts")
def get_texts(
    code: Code,
    actor: ActorDep,
    session: SessionDep,
    question: Annotated[str, Query(max_length=32)],
    version: VersionQ = None,
    station: Station = None,
    town: TownQ = None,
    date_from: From = None,
    date_to: To = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> dict[str, Any]:
    """A text question's answers, newest first, 20 a page."""
    rows, total = results.texts(
        session,
        actor=actor,
        code=code,
        version=version,
        question=question,
        filters=_filters(station, town, date_from, date_to),
        page=page,
    )
    return {
        "items": [
            {
                "response_id": str(r.response_id),
                "text": r.text,
                "answered_at": r.answered_at.isoformat(),
                "station_code": r.station_code,
                "channel": r.channel,
            }
            for r in rows
        ],
        "total": total,
        "page": page,
        "next_page": page + 1 if page * results.TEXT_PAGE < total else None,
    }
