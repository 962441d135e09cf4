"""Results of one questionnaire version: counts per option, scale means, free-text answers,
with filters by station, town and period, counted in SQL. Station staff see their station's."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.errors import FieldError, ValidationFailed
from yibao.questionnaires import rules, service
from yibao.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireTemplate,
    QuestionnaireVersion,
)
from yibao.questionnaires.rules import Definition, QType, QuestionResult
from yibao.stations.models import Station, Town

TEXT_PAGE = 20
MAX_PERIOD_DAYS = 3 * 366
EXPORT_MAX = 100_000


@dataclass(frozen=True)
class ResultFilter:
    """Which responses count; all optional."""

    station: str | None = None
    town: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass
class Results:
    """A version's results under a filter."""

    template: QuestionnaireTemplate
    version: QuestionnaireVersion
    definition: Definition
    filters: ResultFilter
    responses: int
    questions: list[QuestionResult] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=dict)


def check_filter(session: Session, *, actor: Actor, filters: ResultFilter) -> ResultFilter:
    """Refuse unknown stations and towns and a backward period, naming the field; station
    staff are held to their own station."""
    errors: list[FieldError] = []
    station = (filters.station or "").strip() or None
    town = (filters.town or "").strip() or None
    if not actor.agency_wide:
        if station not in (None, actor.unit):
            errors.append(
                FieldError(
                    "station", "you see your own station's answers", "只能查看本服务站的问卷"
                )
            )
        station = actor.unit
    if station and not session.scalar(
        select(Station.id).where(Station.agency == actor.agency, Station.code == station[:16])
    ):
        errors.append(FieldError("station", f"unknown station '{station[:16]}'", "未知的服务站"))
    if town and not session.scalar(
        select(Town.id).where(Town.agency == actor.agency, Town.code == town[:12])
    ):
        errors.append(FieldError("town", f"unknown town '{town[:12]}'", "未知的镇街"))
    if filters.date_from and filters.date_to:
        if filters.date_to < filters.date_from:
            errors.append(FieldError("to", "the end is before the start", "结束日期早于开始日期"))
        elif (filters.date_to - filters.date_from).days > MAX_PERIOD_DAYS:
            errors.append(FieldError("to", "at most three years", "统计区间最长三年"))
    if errors:
        raise ValidationFailed(errors)
    return ResultFilter(station, town, filters.date_from, filters.date_to)


def _where(version: QuestionnaireVersion, filters: ResultFilter) -> ColumnElement[bool]:
    parts = [
        QuestionnaireResponse.agency == version.agency,
        QuestionnaireResponse.version_id == version.id,
    ]
    if filters.station:
        parts.append(QuestionnaireResponse.station_code == filters.station)
    if filters.town:
        parts.append(QuestionnaireResponse.town_code == filters.town)
    if filters.date_from:
        parts.append(QuestionnaireResponse.answered_date >= filters.date_from)
    if filters.date_to:
        parts.append(QuestionnaireResponse.answered_date <= filters.date_to)
    return and_(*parts)


def _load(
    session: Session, actor: Actor, code: str, number: int | None
) -> tuple[QuestionnaireTemplate, QuestionnaireVersion]:
    template = service.get_template(session, actor=actor, code=code)
    return template, service.get_version(session, template, number)


def results(
    session: Session,
    *,
    actor: Actor,
    code: str,
    version: int | None = None,
    filters: ResultFilter = ResultFilter(),
) -> Results:
    """Counts per option and scale point, means, and how many answered each question."""
    template, row = _load(session, actor, code, version)
    filters = check_filter(session, actor=actor, filters=filters)
    where = _where(row, filters)
    total = session.scalar(select(func.count()).select_from(QuestionnaireResponse).where(where))
    joined = (
        select(QuestionnaireAnswer.question)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == QuestionnaireAnswer.response_id)
        .where(where, QuestionnaireAnswer.version_id == row.id)
    )
    answered = {
        q: int(n)
        for q, n in session.execute(
            joined.with_only_columns(
                QuestionnaireAnswer.question,
                func.count(func.distinct(QuestionnaireAnswer.response_id)),
            ).group_by(QuestionnaireAnswer.question)
        )
    }
    choices = {
        (q, str(c)): int(n)
        for q, c, n in session.execute(
            joined.with_only_columns(
                QuestionnaireAnswer.question, QuestionnaireAnswer.choice, func.count()
            )
            .where(QuestionnaireAnswer.choice.is_not(None))
            .group_by(QuestionnaireAnswer.question, QuestionnaireAnswer.choice)
        )
    }
    scales = {
        (q, int(p or 0)): int(n)
        for q, p, n in session.execute(
            joined.with_only_columns(
                QuestionnaireAnswer.question, QuestionnaireAnswer.scale, func.count()
            )
            .where(QuestionnaireAnswer.scale.is_not(None))
            .group_by(QuestionnaireAnswer.question, QuestionnaireAnswer.scale)
        )
    }
    by_channel = {
        str(c): int(n)
        for c, n in session.execute(
            select(QuestionnaireResponse.channel, func.count())
            .where(where)
            .group_by(QuestionnaireResponse.channel)
        )
    }
    defn = service.definition(row)
    return Results(
        template=template,
        version=row,
        definition=defn,
        filters=filters,
        responses=int(total or 0),
        questions=rules.summarize(defn, answered=answered, choices=choices, scales=scales),
        by_channel=by_channel,
    )


@dataclass(frozen=True)
class TextAnswer:
    """One free-text answer with where and when it was given."""

    response_id: uuid.UUID
    text: str
    answered_at: dt.datetime
    station_code: str | None
    channel: str


def texts(
    session: Session,
    *,
    actor: Actor,
    code: str,
    version: int | None,
    question: str,
    filters: ResultFilter = ResultFilter(),
    page: int = 1,
    per_page: int = TEXT_PAGE,
) -> tuple[list[TextAnswer], int]:
    """One page of a text question's answers, newest first; and how many there are."""
    _template, row = _load(session, actor, code, version)
    filters = check_filter(session, actor=actor, filters=filters)
    q = service.definition(row).question(question)
    if q is None or q.type is not QType.TEXT:
        raise ValidationFailed.single(
            "question",
            f"no text question '{question[:32]}' in this version",
            "本版问卷没有此文字题",
        )
    if page < 1:
        raise ValidationFailed.single("page", "pages start at 1", "页码从1开始")
    cond = and_(
        _where(row, filters),
        QuestionnaireAnswer.question == q.id,
        QuestionnaireAnswer.text.is_not(None),
    )
    base = select(QuestionnaireAnswer).join(
        QuestionnaireResponse, QuestionnaireResponse.id == QuestionnaireAnswer.response_id
    )
    total = session.scalar(base.with_only_columns(func.count()).where(cond))
    rows = session.execute(
        base.with_only_columns(
            QuestionnaireAnswer.response_id,
            QuestionnaireAnswer.text,
            QuestionnaireResponse.answered_at,
            QuestionnaireResponse.station_code,
            QuestionnaireResponse.channel,
        )
        .where(cond)
        .order_by(QuestionnaireResponse.answered_at.desc(), QuestionnaireAnswer.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [TextAnswer(r[0], str(r[1]), r[2], r[3], str(r[4])) for r in rows], int(total or 0)


def responses(session: Session, found: Results) -> Iterator[QuestionnaireResponse]:
    """Every response counted in ``found`` (for the export), oldest first, at most 100,000."""
    yield from session.scalars(
        select(QuestionnaireResponse)
        .where(_where(found.version, found.filters))
        .order_by(QuestionnaireResponse.answered_at, QuestionnaireResponse.id)
        .limit(EXPORT_MAX)
        .execution_options(yield_per=1000)
    )


def results_dict(found: Results, *, station_names: dict[str, str]) -> dict[str, Any]:
    """Results as the API shows them."""
    f = found.filters
    return {
        "template": found.template.code,
        "version": found.version.version,
        "title": found.definition.title,
        "state": found.version.state,
        "filters": {
            "station": f.station,
            "station_name": station_names.get(f.station or ""),
            "town": f.town,
            "from": f.date_from.isoformat() if f.date_from else None,
            "to": f.date_to.isoformat() if f.date_to else None,
        },
        "responses": found.responses,
        "by_channel": found.by_channel,
        "questions": [
            {
                "id": r.question.id,
                "type": r.question.type.value,
                "text": r.question.text,
                "answered": r.answered,
                **(
                    {
                        "options": [
                            {
                                "value": o.value,
                                "label": o.label,
                                "count": o.count,
                                "share": round(o.share, 4) if o.share is not None else None,
                            }
                            for o in r.options
                        ]
                    }
                    if r.question.type is not QType.TEXT
                    else {}
                ),
                **(
                    {"mean": round(r.mean, 2) if r.mean is not None else None}
                    if r.question.type is QType.SCALE
                    else {}
                ),
            }
            for r in found.questions
        ],
    }
