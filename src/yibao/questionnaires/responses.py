"""Use cases of questionnaire responses: taken at the window or on a visit (also offline on a
field laptop, then synced), or on a phone from a QR code; read back with the questions of the
version they answered. Anonymous unless the person agrees to link a case (audited)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.audit import service as audit
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.db import UnitOfWork
from yibao.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yibao.questionnaires import rules, service
from yibao.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireTemplate,
    QuestionnaireVersion,
)
from yibao.questionnaires.rules import Channel, Definition, VersionState
from yibao.runtime import Runtime
from yibao.stations.models import Station

FUTURE_SLACK = dt.timedelta(minutes=10)  # a laptop's clock may run a little ahead


class ResponseIn(BaseModel):
    """A response to a questionnaire: answers keyed by question id."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="default: the current version")
    answers: dict[str, Any] = Field(max_length=rules.MAX_QUESTIONS + 10)
    station_code: str | None = Field(default=None, max_length=16)
    consent: bool = False
    case_no: str | None = Field(default=None, max_length=20)
    answered_at: dt.datetime | None = Field(default=None, description="capture time (laptops)")
    client_id: uuid.UUID | None = Field(default=None, description="makes a resend harmless")


# ---------------------------------------------------------------- taking responses


@dataclass(frozen=True)
class Taken:
    """A stored response and whether it was already there (a resend)."""

    response: QuestionnaireResponse
    duplicate: bool


def _station(session: Session, agency: str, code: str | None) -> Station | None:
    if not code:
        return None
    return session.scalar(select(Station).where(Station.agency == agency, Station.code == code))


def _answer_rows(response: QuestionnaireResponse, defn: Definition) -> list[QuestionnaireAnswer]:
    rows = []
    for q in defn.questions:
        value = response.answers.get(q.id)
        if value is None:
            continue
        base = {
            "agency": response.agency,
            "response_id": response.id,
            "version_id": response.version_id,
            "question": q.id,
        }
        if q.type is rules.QType.MULTIPLE:
            rows += [QuestionnaireAnswer(**base, choice=str(v)) for v in value]
        elif q.type is rules.QType.SINGLE:
            rows.append(QuestionnaireAnswer(**base, choice=str(value)))
        elif q.type is rules.QType.SCALE:
            rows.append(QuestionnaireAnswer(**base, scale=int(value)))
        elif value:
            rows.append(QuestionnaireAnswer(**base, text=str(value)))
    return rows


def _usable(version: QuestionnaireVersion, asked: bool) -> None:
    """Answers go to the current version; a version asked earlier (a laptop's, a phone's open
    form) may still be answered after it was retired, but never a draft."""
    state = VersionState(version.state)
    if state is VersionState.DRAFT or (state is VersionState.RETIRED and not asked):
        raise ValidationFailed.single(
            "version",
            f"version {version.version} is {state.value}: answers are not taken",
            "该版本问卷未发布或已停用，不能填写",
        )


def _link_case(
    session: Session,
    *,
    scope: Actor | None,
    agency: str,
    consent: bool,
    case_no: str | None,
    id_tail: str | None = None,
) -> str | None:
    """The case a response is linked to: only with the person's consent, and only one the
    taker may see (on the phone: the case number with the ID number's last 4 characters)."""
    number = (case_no or "").strip()
    if not consent:
        if number:
            raise ValidationFailed.single(
                "consent",
                "a case is linked only when the person agrees: tick the consent box",
                "关联办件须经本人同意，请勾选同意",
            )
        return None
    if not number:
        raise ValidationFailed.single(
            "case_no", "give the case number to link", "请填写要关联的办件编号"
        )
    stmt = select(Case.case_no).where(Case.agency == agency, Case.case_no == number[:20])
    if scope is not None:
        stmt = stmt.where(visible_cases(scope))
    else:
        stmt = stmt.where(Case.applicant_id_tail == (id_tail or "").strip().upper()[:4])
    found = session.scalar(stmt)
    if found is None:
        raise ValidationFailed.single(
            "case_no",
            "no such case"
            + (" for these last 4 characters of the ID number" if scope is None else ""),
            "未找到该办件" + ("，请核对办件编号和身份证号后四位" if scope is None else ""),
        )
    return found


def _store(
    session: Session,
    *,
    runtime: Runtime,
    template: QuestionnaireTemplate,
    version: QuestionnaireVersion,
    answers: dict[str, Any],
    channel: Channel,
    station: Station | None,
    case_no: str | None,
    taken_by: int | None,
    answered_at: dt.datetime,
    response_id: uuid.UUID,
) -> QuestionnaireResponse:
    response = QuestionnaireResponse(
        id=response_id,
        agency=template.agency,
        template_id=template.id,
        version_id=version.id,
        version=version.version,
        channel=channel.value,
        station_code=station.code if station else None,
        town_code=station.town_code if station else None,
        town_release=station.town_release if station else None,
        answers=answers,
        consent=case_no is not None,
        case_no=case_no,
        taken_by=taken_by,
        answered_at=answered_at,
        answered_date=runtime.local_date(answered_at),
        received_at=runtime.now(),
    )
    session.add(response)
    session.flush()
    session.add_all(_answer_rows(response, service.definition(version)))
    return response


def _existing(
    session: Session, agency: str, response_id: uuid.UUID | None
) -> QuestionnaireResponse | None:
    if response_id is None:
        return None
    return session.scalar(
        select(QuestionnaireResponse).where(
            QuestionnaireResponse.agency == agency, QuestionnaireResponse.id == response_id
        )
    )


def _same(
    row: QuestionnaireResponse, template: QuestionnaireTemplate, answers: dict[str, Any]
) -> Taken:
    if row.template_id != template.id or row.answers != answers:
        raise Conflict("this response id was used for other answers", response_id=str(row.id))
    return Taken(row, True)


def submit(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, code: str, request: ResponseIn
) -> Taken:
    """Take a response at the actor's station (window; on a mobile station, a visit). On a
    field laptop the response is also queued for the central node, in the same transaction."""
    service.require_reader(actor)
    if not service.can_take(actor):
        raise Forbidden("responses are taken by the staff of a station")
    session = uow.session
    template = service.find_template(session, actor.agency, code)
    asked = request.version is not None
    version = service.get_version(session, template, request.version)
    _usable(version, asked)
    station_code = request.station_code or actor.unit
    if station_code != actor.unit:
        raise ValidationFailed.single(
            "station_code", "responses are taken for your own station", "只能为本服务站录入问卷"
        )
    station = _station(session, actor.agency, station_code)
    if station is None:
        raise ValidationFailed.single("station_code", "unknown station", "未知的服务站")
    answers = rules.validate_answers(service.definition(version), request.answers)
    old = _existing(session, actor.agency, request.client_id)
    if old is not None:
        return _same(old, template, answers)
    case_no = _link_case(
        session, scope=actor, agency=actor.agency, consent=request.consent, case_no=request.case_no
    )
    now = runtime.now()
    answered_at = request.answered_at or now
    if answered_at.tzinfo is None or answered_at > now + FUTURE_SLACK:
        raise ValidationFailed.single(
            "answered_at", "a time with its offset, not in the future", "填写时间不正确"
        )
    channel = Channel.MOBILE if station.kind == "mobile" else Channel.WINDOW
    response = _store(
        session,
        runtime=runtime,
        template=template,
        version=version,
        answers=answers,
        channel=channel,
        station=station,
        case_no=case_no,
        taken_by=actor.id,
        answered_at=answered_at,
        response_id=request.client_id or uuid.uuid4(),
    )
    service.audit_change(
        session,
        actor,
        "response",
        str(response.id),
        template=template.code,
        version=version.version,
        channel=channel.value,
    )
    if case_no is not None:
        service.audit_change(
            session,
            actor,
            "response_linked",
            str(response.id),
            template=template.code,
            version=version.version,
            case_no=case_no,
        )
    if runtime.field_hook is not None:
        _queue_on_laptop(session, response, template, case_no)
    return _commit_response(uow, runtime, template, answers, response)


def _commit_response(
    uow: UnitOfWork,
    runtime: Runtime,
    template: QuestionnaireTemplate,
    answers: dict[str, Any],
    response: QuestionnaireResponse,
) -> Taken:
    response_id = response.id
    try:
        uow.commit()
    except IntegrityError:
        # The same id raced in from a second submission: answer with the stored one.
        uow.rollback()
        with runtime.db.session() as s:
            row = _existing(s, template.agency, response_id)
        if row is None:
            raise
        return _same(row, template, answers)
    return Taken(response, False)


def _queue_on_laptop(
    session: Session,
    response: QuestionnaireResponse,
    template: QuestionnaireTemplate,
    case_no: str | None,
) -> None:
    from yibao.field import queue

    payload: dict[str, Any] = {
        "template": template.code,
        "version": response.version,
        "answers": response.answers,
        "answered_at": response.answered_at.isoformat(),
        "consent": case_no is not None,
        "case_no": case_no,
    }
    if case_no is not None:
        # A case taken on this laptop has a local number until synced: send its client id.
        case_id = session.scalar(select(Case.id).where(Case.case_no == case_no))
        if case_id is not None and queue.queued_case(session, case_id):
            payload["case_no"] = None
            payload["case_client_id"] = str(case_id)
    queue.enqueue_record(
        session, kind="response", client_id=response.id, label=case_no or "", payload=payload
    )


def ingest_field(
    runtime: Runtime, *, actor: Actor, client_id: uuid.UUID, payload: Any, case_no: str | None
) -> tuple[str, dict[str, Any]]:
    """A response a field laptop took (central side of sync): accepted once under its client
    id, refused with the reason otherwise. ``case_no``: the central number of a linked case
    the laptop knew only by its client id."""
    if not isinstance(payload, dict):
        return "refused", {"reason": "payload: an object"}
    try:
        request = ResponseIn.model_validate(
            {
                "version": payload.get("version"),
                "answers": payload.get("answers"),
                "consent": bool(payload.get("consent")),
                "case_no": case_no or payload.get("case_no"),
                "answered_at": payload.get("answered_at"),
                "client_id": str(client_id),
            }
        )
        if request.version is None or request.answered_at is None:
            raise ValidationFailed.single(
                "version", "a laptop's response names its version and time", "缺少版本或填写时间"
            )
        with runtime.db.uow() as uow:
            taken = submit(
                uow,
                runtime=runtime,
                actor=actor,
                code=str(payload.get("template") or ""),
                request=request,
            )
    except ValidationFailed as exc:
        return "refused", {
            "reason": exc.detail,
            "errors": [{"field": e.field, "message": e.message} for e in exc.errors],
        }
    except (NotFound, Forbidden, Conflict) as exc:
        return "refused", {"reason": exc.detail}
    except ValueError as exc:  # pydantic's ValidationError
        return "refused", {"reason": str(exc).splitlines()[0][:300]}
    return "accepted", {"response_id": str(taken.response.id), "duplicate": taken.duplicate}


def submit_public(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    template_id: int,
    version_number: int,
    station_code: str | None,
    response_id: uuid.UUID,
    answers: dict[str, Any],
    consent: bool,
    case_no: str | None,
    id_tail: str | None,
) -> Taken:
    """A response from a phone (QR code); the form token said which version it showed."""
    session = uow.session
    template = session.get(QuestionnaireTemplate, template_id)
    if template is None or template.agency != runtime.agency:
        raise NotFound("questionnaire not found")
    version = service.get_version(session, template, version_number)
    _usable(version, asked=True)
    clean = rules.validate_answers(service.definition(version), answers)
    old = _existing(session, runtime.agency, response_id)
    if old is not None:
        return _same(old, template, clean)
    linked = _link_case(
        session,
        scope=None,
        agency=runtime.agency,
        consent=consent,
        case_no=case_no,
        id_tail=id_tail,
    )
    station = _station(session, runtime.agency, station_code)
    response = _store(
        session,
        runtime=runtime,
        template=template,
        version=version,
        answers=clean,
        channel=Channel.QR,
        station=station,
        case_no=linked,
        taken_by=None,
        answered_at=runtime.now(),
        response_id=response_id,
    )
    audit.record(
        session,
        agency=runtime.agency,
        actor_id=None,
        actor_name="public",
        action="questionnaire.response",
        object_type="questionnaire",
        object_id=str(response.id),
        detail={"template": template.code, "version": version.version, "channel": "qr"},
    )
    if linked is not None:
        audit.record(
            session,
            agency=runtime.agency,
            actor_id=None,
            actor_name="public",
            action="questionnaire.response_linked",
            object_type="questionnaire",
            object_id=str(response.id),
            detail={"template": template.code, "version": version.version, "case_no": linked},
        )
    return _commit_response(uow, runtime, template, clean, response)


# ---------------------------------------------------------------- reading responses


def get_response(
    session: Session, *, actor: Actor, code: str, response_id: uuid.UUID
) -> tuple[QuestionnaireResponse, QuestionnaireVersion]:
    """One response with the version it answered (station staff: their station's only)."""
    service.require_reader(actor)
    template = service.find_template(session, actor.agency, code)
    stmt = select(QuestionnaireResponse).where(
        QuestionnaireResponse.agency == actor.agency,
        QuestionnaireResponse.template_id == template.id,
        QuestionnaireResponse.id == response_id,
    )
    if not actor.agency_wide:
        stmt = stmt.where(QuestionnaireResponse.station_code == actor.unit)
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("response not found")
    version = session.get(QuestionnaireVersion, row.version_id)
    assert version is not None
    return row, version


def responses_for_case(
    session: Session, *, actor: Actor, case_no: str
) -> list[tuple[QuestionnaireResponse, QuestionnaireTemplate]]:
    """Responses the person agreed to link to this case (the case page's panel)."""
    if not actor.sees_cases:
        return []
    stmt = (
        select(QuestionnaireResponse, QuestionnaireTemplate)
        .join(QuestionnaireTemplate, QuestionnaireTemplate.id == QuestionnaireResponse.template_id)
        .where(
            QuestionnaireResponse.agency == actor.agency, QuestionnaireResponse.case_no == case_no
        )
        .order_by(QuestionnaireResponse.answered_at)
        .limit(20)
    )
    return [(r, t) for r, t in session.execute(stmt).all()]


def response_dict(
    response: QuestionnaireResponse, version: QuestionnaireVersion, code: str
) -> dict[str, Any]:
    """A response with its questions (those of the version it answered) as the API shows it."""
    defn = service.definition(version)
    return {
        "id": str(response.id),
        "template": code,
        "version": response.version,
        "channel": response.channel,
        "station_code": response.station_code,
        "town_code": response.town_code,
        "answered_at": response.answered_at.isoformat(),
        "case_no": response.case_no,
        "answers": [
            {
                "question": q.id,
                "text": q.text,
                "type": q.type.value,
                "value": response.answers.get(q.id),
                "display": rules.answer_text(q, response.answers.get(q.id)),
            }
            for q in defn.questions
        ],
    }


# ---------------------------------------------------------------- field laptops


def bundle_items(session: Session, *, agency: str) -> list[dict[str, Any]]:
    """The questionnaires a field laptop needs: each template's published version."""
    rows = session.execute(
        select(QuestionnaireTemplate, QuestionnaireVersion)
        .join(QuestionnaireVersion, QuestionnaireVersion.template_id == QuestionnaireTemplate.id)
        .where(
            QuestionnaireTemplate.agency == agency,
            QuestionnaireVersion.state == VersionState.PUBLISHED.value,
        )
        .order_by(QuestionnaireTemplate.code)
    ).all()
    return [
        {
            "code": t.code,
            "kind": t.kind,
            "version": v.version,
            "title": v.title,
            "definition": v.definition,
        }
        for t, v in rows
    ]


def store_bundle(session: Session, *, agency: str, items: list[dict[str, Any]]) -> None:
    """Keep the bundle's questionnaires on the laptop, with their central version numbers."""
    for item in items:
        defn = rules.parse_definition(item["definition"])
        template = QuestionnaireTemplate(
            agency=agency,
            code=str(item["code"]),
            kind=str(item["kind"]),
            title=defn.title,
            current_version=int(item["version"]),
            created_at=dt.datetime.now(dt.UTC),
            updated_at=dt.datetime.now(dt.UTC),
        )
        session.add(template)
        session.flush()
        session.add(
            QuestionnaireVersion(
                agency=agency,
                template_id=template.id,
                version=int(item["version"]),
                state=VersionState.PUBLISHED.value,
                title=defn.title,
                definition=defn.as_dict(),
                note="中心下载",
                created_at=dt.datetime.now(dt.UTC),
                published_at=dt.datetime.now(dt.UTC),
            )
        )
    session.flush()
