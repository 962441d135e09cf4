"""Use cases of questionnaires: templates and their versions, and taking responses.

Supervisors and bureau officers manage templates (a new version, publish, retire); clerks,
station masters and bureau officers take responses for their own station; anyone may answer a
published questionnaire from a printed QR code on their phone. Every writing use case commits
once, with its audit record (template changes; responses linked to a case).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.cases.models import Case
from yibao.cases.service import visible as visible_cases
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.questionnaires import rules
from yibao.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireTemplate,
    QuestionnaireVersion,
)
from yibao.questionnaires.rules import Channel, Definition, Kind, VersionAction, VersionState
from yibao.runtime import Runtime
from yibao.stations.models import Station

MAX_SOURCE = 60_000  # characters of YAML/JSON a manager may paste
TAKERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
MANAGERS = (Role.SUPERVISOR, Role.BUREAU_OFFICER)
FUTURE_SLACK = dt.timedelta(minutes=10)  # a laptop's clock may run a little ahead


# ---------------------------------------------------------------- input shapes


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


class TemplateIn(BaseModel):
    """A new template: its code, kind and first version's definition."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(max_length=40)
    kind: str = Field(max_length=12)
    definition: dict[str, Any]
    note: str | None = Field(default=None, max_length=500)


class VersionIn(BaseModel):
    """The content of a new version (a draft until published)."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any]
    note: str | None = Field(default=None, max_length=500)


# ---------------------------------------------------------------- access


def require_reader(actor: Actor) -> None:
    """Questionnaires are station work: auditors and admins see none of it."""
    if not actor.sees_cases:
        raise Forbidden(f"the role '{actor.role.value}' has no access to questionnaires")


def require_manager(actor: Actor) -> None:
    """Only supervisors and bureau officers write templates."""
    if actor.role not in MANAGERS:
        raise Forbidden("only supervisors and bureau officers manage questionnaires")


def can_manage(actor: Actor) -> bool:
    """Whether the actor manages templates."""
    return actor.role in MANAGERS


def can_take(actor: Actor) -> bool:
    """Whether the actor takes responses at a station."""
    return actor.role in TAKERS and bool(actor.unit)


# ---------------------------------------------------------------- reading templates


def list_templates(
    session: Session, *, actor: Actor, limit: int = 50, offset: int = 0
) -> tuple[list[QuestionnaireTemplate], int]:
    """Templates of the agency, by kind and code, one page; and how many there are."""
    require_reader(actor)
    where = QuestionnaireTemplate.agency == actor.agency
    total = session.scalar(select(func.count()).select_from(QuestionnaireTemplate).where(where))
    rows = session.scalars(
        select(QuestionnaireTemplate)
        .where(where)
        .order_by(QuestionnaireTemplate.kind, QuestionnaireTemplate.code)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


def get_template(session: Session, *, actor: Actor, code: str) -> QuestionnaireTemplate:
    """One template by code (404 when unknown)."""
    require_reader(actor)
    return _template(session, actor.agency, code)


def _template(session: Session, agency: str, code: str) -> QuestionnaireTemplate:
    row = session.scalar(
        select(QuestionnaireTemplate).where(
            QuestionnaireTemplate.agency == agency, QuestionnaireTemplate.code == code[:40]
        )
    )
    if row is None:
        raise NotFound(f"questionnaire {code[:40]} not found")
    return row


def versions(session: Session, template: QuestionnaireTemplate) -> list[QuestionnaireVersion]:
    """A template's versions, newest first."""
    return list(
        session.scalars(
            select(QuestionnaireVersion)
            .where(QuestionnaireVersion.template_id == template.id)
            .order_by(QuestionnaireVersion.version.desc())
        )
    )


def get_version(
    session: Session, template: QuestionnaireTemplate, number: int | None
) -> QuestionnaireVersion:
    """A version by number; None: the current one, else the newest."""
    stmt = select(QuestionnaireVersion).where(QuestionnaireVersion.template_id == template.id)
    if number is None:
        number = template.current_version
    if number is None:
        row = session.scalar(stmt.order_by(QuestionnaireVersion.version.desc()).limit(1))
    else:
        row = session.scalar(stmt.where(QuestionnaireVersion.version == number))
    if row is None:
        raise NotFound(f"questionnaire {template.code} has no version {number}")
    return row


def definition(version: QuestionnaireVersion) -> Definition:
    """A stored version's definition."""
    return rules.definition_from_stored(version.definition)


def counts_by_version(session: Session, template: QuestionnaireTemplate) -> dict[int, int]:
    """Responses per version number."""
    return {
        int(v): int(n)
        for v, n in session.execute(
            select(QuestionnaireResponse.version, func.count())
            .where(
                QuestionnaireResponse.agency == template.agency,
                QuestionnaireResponse.template_id == template.id,
            )
            .group_by(QuestionnaireResponse.version)
        )
    }


# ---------------------------------------------------------------- writing templates


def parse_source(text: str) -> dict[str, Any]:
    """A definition pasted as YAML or JSON; a syntax error names the line."""
    if len(text) > MAX_SOURCE:
        raise ValidationFailed.single(
            "definition", f"at most {MAX_SOURCE} characters", f"内容过长（最多{MAX_SOURCE}字符）"
        )
    if not text.strip():
        raise ValidationFailed.single("definition", "the definition is empty", "请填写问卷内容")
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed.single(
            "definition",
            f"not valid JSON (line {exc.lineno}: {exc.msg})",
            f"JSON 格式错误（第{exc.lineno}行）",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ValidationFailed.single(
            "definition",
            f"not valid YAML (line {line}: {getattr(exc, 'problem', '') or exc})",
            f"YAML 格式错误（第{line}行）",
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed.single(
            "definition", "a mapping with title and questions", "问卷须包含 title 与 questions"
        )
    return data


def to_source(defn: dict[str, Any]) -> str:
    """A stored definition as YAML for the editor."""
    return str(yaml.safe_dump(defn, allow_unicode=True, sort_keys=False, width=100))


def _audit(session: Session, actor: Actor, action: str, object_id: str, **detail: Any) -> None:
    audit.record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"questionnaire.{action}",
        object_type="questionnaire",
        object_id=object_id,
        ip=actor.ip,
        detail=detail,
    )


def create_template(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, request: TemplateIn
) -> QuestionnaireVersion:
    """A new template with its first version, as a draft."""
    require_manager(actor)
    errors: list[FieldError] = []
    if not rules.CODE_RE.match(request.code) or request.code in rules.RESERVED_CODES:
        errors.append(
            FieldError(
                "code",
                "2-40 lower-case letters, digits or '-', starting with a letter",
                "代码须为2至40个小写字母、数字或-，以字母开头",
            )
        )
    if request.kind not in set(Kind):
        errors.append(
            FieldError(
                "kind",
                "awareness, procedure or evaluation",
                "类型须为政策知晓度、业务办理或政策评价",
            )
        )
    try:
        defn = rules.parse_definition(request.definition)
    except ValidationFailed as exc:
        errors += exc.errors
        defn = None
    session = uow.session
    if not errors and session.scalar(
        select(QuestionnaireTemplate.id).where(
            QuestionnaireTemplate.agency == actor.agency,
            QuestionnaireTemplate.code == request.code,
        )
    ):
        errors.append(FieldError("code", "this code is taken", "该代码已被使用"))
    if errors or defn is None:
        raise ValidationFailed(errors)
    now = runtime.now()
    template = QuestionnaireTemplate(
        agency=actor.agency,
        code=request.code,
        kind=request.kind,
        title=defn.title,
        current_version=None,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    version = _new_version(session, actor, template, 1, defn, request.note, now)
    _audit(session, actor, "create", template.code, version=1, title=defn.title)
    try:
        uow.commit()
    except IntegrityError:
        uow.rollback()
        raise ValidationFailed.single("code", "this code is taken", "该代码已被使用") from None
    return version


def _new_version(
    session: Session,
    actor: Actor,
    template: QuestionnaireTemplate,
    number: int,
    defn: Definition,
    note: str | None,
    now: dt.datetime,
) -> QuestionnaireVersion:
    version = QuestionnaireVersion(
        agency=template.agency,
        template_id=template.id,
        version=number,
        state=VersionState.DRAFT.value,
        title=defn.title,
        definition=defn.as_dict(),
        note=(note or "").strip() or None,
        created_by=actor.id,
        created_at=now,
    )
    session.add(version)
    session.flush()
    return version


def save_draft(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, code: str, request: VersionIn
) -> QuestionnaireVersion:
    """Edit the template: the open draft changes, else a new draft version is made (a
    published version never changes: its answers refer to it)."""
    require_manager(actor)
    session = uow.session
    template = _template(session, actor.agency, code)
    defn = rules.parse_definition(request.definition)
    now = runtime.now()
    draft = session.scalar(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.template_id == template.id,
            QuestionnaireVersion.state == VersionState.DRAFT.value,
        )
    )
    if draft is not None:
        rules.decide(VersionState(draft.state), VersionAction.EDIT, actor.role.value)
        draft.definition, draft.title = defn.as_dict(), defn.title
        draft.note = (request.note or "").strip() or None
        version = draft
        action = "edit_draft"
    else:
        numbers = list(
            session.scalars(
                select(QuestionnaireVersion.version).where(
                    QuestionnaireVersion.template_id == template.id
                )
            )
        )
        version = _new_version(
            session, actor, template, rules.next_version_number(numbers), defn, request.note, now
        )
        action = "new_version"
    template.updated_at = now
    _audit(session, actor, action, template.code, version=version.version, title=defn.title)
    _commit(uow, "a second draft was made meanwhile; reload the page")
    return version


def _commit(uow: UnitOfWork, message: str) -> None:
    try:
        uow.commit()
    except IntegrityError:
        uow.rollback()
        raise Conflict(message) from None


def publish(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, code: str, number: int
) -> QuestionnaireVersion:
    """Publish a draft: answers are taken with it from now on; the version published before
    it is retired (its answers stay, with its questions)."""
    require_manager(actor)
    session = uow.session
    template = _template(session, actor.agency, code)
    version = get_version(session, template, number)
    version.state = rules.decide(
        VersionState(version.state), VersionAction.PUBLISH, actor.role.value
    ).value
    now = runtime.now()
    version.published_at = now
    superseded = None
    for old in session.scalars(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.template_id == template.id,
            QuestionnaireVersion.state == VersionState.PUBLISHED.value,
            QuestionnaireVersion.id != version.id,
        )
    ):
        old.state = rules.decide(
            VersionState(old.state), VersionAction.SUPERSEDE, actor.role.value
        ).value
        old.retired_at = now
        superseded = old.version
    template.current_version, template.title, template.updated_at = (
        version.version,
        version.title,
        now,
    )
    _audit(session, actor, "publish", template.code, version=version.version, superseded=superseded)
    uow.commit()
    return version


def retire(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, code: str, number: int
) -> QuestionnaireVersion:
    """Stop asking a published version (its answers and results stay readable)."""
    require_manager(actor)
    session = uow.session
    template = _template(session, actor.agency, code)
    version = get_version(session, template, number)
    version.state = rules.decide(
        VersionState(version.state), VersionAction.RETIRE, actor.role.value
    ).value
    now = runtime.now()
    version.retired_at = now
    if template.current_version == version.version:
        template.current_version = None
    template.updated_at = now
    _audit(session, actor, "retire", template.code, version=version.version)
    uow.commit()
    return version


# ---------------------------------------------------------------- the standard templates


def standard_templates() -> list[dict[str, Any]]:
    """The three standard templates shipped with yibao (data/standard.yaml)."""
    path = resources.files("yibao.questionnaires").joinpath("data/standard.yaml")
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return list(data["templates"])


def install_standard(
    session: Session, *, agency: str, by: int | None, at: dt.datetime
) -> list[QuestionnaireVersion]:
    """Add the standard templates that the agency lacks, each as version 1, published."""
    have = set(
        session.scalars(
            select(QuestionnaireTemplate.code).where(QuestionnaireTemplate.agency == agency)
        )
    )
    out = []
    for item in standard_templates():
        if item["code"] in have:
            continue
        defn = rules.parse_definition(item["definition"])
        template = QuestionnaireTemplate(
            agency=agency,
            code=item["code"],
            kind=Kind(item["kind"]).value,
            title=defn.title,
            current_version=1,
            created_by=by,
            created_at=at,
            updated_at=at,
        )
        session.add(template)
        session.flush()
        version = QuestionnaireVersion(
            agency=agency,
            template_id=template.id,
            version=1,
            state=VersionState.PUBLISHED.value,
            title=defn.title,
            definition=defn.as_dict(),
            note="标准问卷",
            created_by=by,
            created_at=at,
            published_at=at,
        )
        session.add(version)
        out.append(version)
    session.flush()
    return out


def load_standard(uow: UnitOfWork, *, runtime: Runtime, actor: Actor) -> int:
    """Load the standard templates on a node that has none (supervisors)."""
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden("only a supervisor loads the standard questionnaires")
    session = uow.session
    if session.scalar(
        select(func.count())
        .select_from(QuestionnaireTemplate)
        .where(QuestionnaireTemplate.agency == actor.agency)
    ):
        raise Conflict("this node already has questionnaires")
    made = install_standard(session, agency=actor.agency, by=actor.id, at=runtime.now())
    for v in made:
        _audit(session, actor, "load_standard", str(v.definition.get("title")), version=1)
    _commit(uow, "the standard questionnaires were loaded meanwhile")
    return len(made)


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
    session.add_all(_answer_rows(response, definition(version)))
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
    require_reader(actor)
    if not can_take(actor):
        raise Forbidden("responses are taken by the staff of a station")
    session = uow.session
    template = _template(session, actor.agency, code)
    asked = request.version is not None
    version = get_version(session, template, request.version)
    _usable(version, asked)
    station_code = request.station_code or actor.unit
    if station_code != actor.unit:
        raise ValidationFailed.single(
            "station_code", "responses are taken for your own station", "只能为本服务站录入问卷"
        )
    station = _station(session, actor.agency, station_code)
    if station is None:
        raise ValidationFailed.single("station_code", "unknown station", "未知的服务站")
    answers = rules.validate_answers(definition(version), request.answers)
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
    if case_no is not None:
        _audit(
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
    from yibao.field import laptop

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
        if case_id is not None and laptop.queued_case(session, case_id):
            payload["case_no"] = None
            payload["case_client_id"] = str(case_id)
    laptop.enqueue_record(
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
    version = get_version(session, template, version_number)
    _usable(version, asked=True)
    clean = rules.validate_answers(definition(version), answers)
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
    require_reader(actor)
    template = _template(session, actor.agency, code)
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
    return [(r, t) for r, t in session.execute(stmt).tuples()]


def response_dict(
    response: QuestionnaireResponse, version: QuestionnaireVersion, code: str
) -> dict[str, Any]:
    """A response with its questions (those of the version it answered) as the API shows it."""
    defn = definition(version)
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
    ).tuples()
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
