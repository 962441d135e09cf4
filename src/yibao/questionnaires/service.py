"""Use cases of questionnaire templates and their versions (responses: responses.py).

Supervisors and bureau officers manage templates (a new version, publish, retire); every
reader of station work sees them. Each writing use case commits once, with its audit record.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from yibao.questionnaires import rules
from yibao.questionnaires.models import (
    QuestionnaireResponse,
    QuestionnaireTemplate,
    QuestionnaireVersion,
)
from yibao.questionnaires.rules import Definition, Kind, VersionAction, VersionState
from yibao.runtime import Runtime

MAX_SOURCE = 60_000  # characters of YAML/JSON a manager may paste
TAKERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)
MANAGERS = (Role.SUPERVISOR, Role.BUREAU_OFFICER)
FUTURE_SLACK = dt.timedelta(minutes=10)  # a laptop's clock may run a little ahead


# ---------------------------------------------------------------- input shapes


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
    return find_template(session, actor.agency, code)


def find_template(session: Session, agency: str, code: str) -> QuestionnaireTemplate:
    """A template of the agency by code (404 when unknown)."""
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


def audit_change(
    session: Session, actor: Actor, action: str, object_id: str, **detail: Any
) -> None:
    """An audit record of a questionnaire change, in the caller's transaction."""
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
    audit_change(session, actor, "create", template.code, version=1, title=defn.title)
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
    template = find_template(session, actor.agency, code)
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
    audit_change(session, actor, action, template.code, version=version.version, title=defn.title)
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
    template = find_template(session, actor.agency, code)
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
    audit_change(
        session, actor, "publish", template.code, version=version.version, superseded=superseded
    )
    uow.commit()
    return version


def retire(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, code: str, number: int
) -> QuestionnaireVersion:
    """Stop asking a published version (its answers and results stay readable)."""
    require_manager(actor)
    session = uow.session
    template = find_template(session, actor.agency, code)
    version = get_version(session, template, number)
    version.state = rules.decide(
        VersionState(version.state), VersionAction.RETIRE, actor.role.value
    ).value
    now = runtime.now()
    version.retired_at = now
    if template.current_version == version.version:
        template.current_version = None
    template.updated_at = now
    audit_change(session, actor, "retire", template.code, version=version.version)
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
        audit_change(session, actor, "load_standard", str(v.definition.get("title")), version=1)
    _commit(uow, "the standard questionnaires were loaded meanwhile")
    return len(made)
