"""Reading many cases: filtered, searched, keyset-paged lists and queues."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.cases.lifecycle import OPEN, State
from yibao.cases.models import Case
from yibao.cases.schemas import CHANNELS
from yibao.cases.service import RUNNING, require_case_role, visible
from yibao.errors import FieldError, ValidationFailed
from yibao.people import rules as people
from yibao.people.rules import InvalidInput
from yibao.runtime import Reference, Runtime

_TAIL = re.compile(r"^[0-9]{3}[0-9Xx]$")
_LETTERS = re.compile(r"^[A-Za-z]+$")
_DIGITS = re.compile(r"^[0-9]+$")
_CJK = re.compile(r"[\u3400-\u9fff]")


class Order(StrEnum):
    """Orderings of a case list."""

    NEWEST = "newest"  # received_at desc: lists and history
    URGENT = "urgent"  # due_date asc: queues (what must be done first)


@dataclass(frozen=True)
class CaseFilter:
    """Filters of the case list; all optional."""

    states: tuple[str, ...] = ()
    station: str | None = None  # intake station or current unit
    unit: str | None = None  # current unit only (a queue)
    service: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
    id_tail: str | None = None
    q: str | None = None  # case number, ID tail, name, or pinyin initials (zs → 张三)
    open_only: bool = False


def list_cases(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    filters: CaseFilter,
    limit: int,
    cursor: str | None,
    order: Order = Order.NEWEST,
) -> tuple[list[Case], str | None]:
    """A page of visible cases with an opaque signed cursor for the next page."""
    require_case_role(actor)
    check_filters(runtime.reference(), filters)
    stmt = _filtered(select(Case).where(visible(actor)), filters, runtime.today())
    secret = runtime.settings.secret_key
    if order is Order.NEWEST:
        if cursor:
            at, ident = _newest_key(decode_cursor(cursor, order.value, secret))
            stmt = stmt.where(
                or_(Case.received_at < at, and_(Case.received_at == at, Case.id < ident))
            )
        stmt = stmt.order_by(Case.received_at.desc(), Case.id.desc())
    else:
        if cursor:
            due, ident = _urgent_key(decode_cursor(cursor, order.value, secret))
            stmt = stmt.where(or_(Case.due_date > due, and_(Case.due_date == due, Case.id > ident)))
        stmt = stmt.order_by(Case.due_date.asc(), Case.id.asc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        values = (
            [last.received_at.isoformat(), str(last.id)]
            if order is Order.NEWEST
            else [last.due_date.isoformat(), str(last.id)]
        )
        next_cursor = encode_cursor(order.value, values, secret)
    return rows, next_cursor


def _newest_key(values: list[str]) -> tuple[datetime, uuid.UUID]:
    try:
        at = datetime.fromisoformat(values[0])
        if at.tzinfo is None:
            raise ValueError
        return at, uuid.UUID(values[1])
    except (ValueError, IndexError):
        raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None


def _urgent_key(values: list[str]) -> tuple[date, uuid.UUID]:
    try:
        return date.fromisoformat(values[0]), uuid.UUID(values[1])
    except (ValueError, IndexError):
        raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None


def _filtered(stmt: Select[Case], f: CaseFilter, today: date) -> Select[Case]:
    if f.states:
        stmt = stmt.where(Case.state.in_(f.states))
    if f.open_only:
        stmt = stmt.where(Case.state.in_([s.value for s in OPEN]))
    if f.station:
        code = f.station.upper()
        stmt = stmt.where(or_(Case.intake_station == code, Case.unit == code))
    if f.unit:
        stmt = stmt.where(Case.unit == f.unit.upper())
    if f.service:
        stmt = stmt.where(Case.service_code == f.service)
    if f.channel:
        stmt = stmt.where(Case.channel == f.channel)
    if f.date_from:
        stmt = stmt.where(Case.intake_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Case.intake_date <= f.date_to)
    if f.id_tail:
        stmt = stmt.where(Case.applicant_id_tail == f.id_tail.upper())
    if f.overdue is not None:
        cond = overdue_clause(today)
        stmt = stmt.where(cond if f.overdue else ~cond)
    if f.q:
        stmt = stmt.where(search_clause(f.q))
    return stmt


def search_clause(q: str) -> ColumnElement[bool]:
    """What a clerk types into one search box: number, ID tail, initials or a name."""
    text = q.strip()
    full_id = _full_id(text)
    if full_id is not None:
        # The keyed blind index (yibao.sealing): the column type digests the bound number.
        by_id = Case.applicant_id_key == full_id
        return by_id if len(text) == 18 else or_(by_id, Case.case_no.startswith(text))
    if _TAIL.match(text):
        return or_(Case.applicant_id_tail == text.upper(), Case.case_no.endswith(text))
    if _DIGITS.match(text):
        return Case.case_no.startswith(text) if len(text) >= 8 else Case.case_no.contains(text)
    if _LETTERS.match(text):
        return Case.applicant_initials.startswith(text.lower())
    if _CJK.search(text):
        return Case.applicant_name.contains(text)
    return Case.case_no == text


def _full_id(text: str) -> str | None:
    """The normalised ID number when the search text is a valid full one (18 or 15 digits)."""
    if len(text) not in (15, 18) or not _DIGITS.match(text[:-1]):
        return None
    try:
        return people.parse_id_number(text).value
    except InvalidInput:
        return None


def overdue_clause(today: date) -> ColumnElement[bool]:
    """Open cases past their last working day; a paused case by its frozen remaining days."""
    return or_(
        and_(Case.state.in_(RUNNING), Case.due_date < today),
        and_(Case.state == State.MATERIALS_PENDING.value, Case.remaining_days < 0),
    )


def check_filters(ref: Reference, f: CaseFilter) -> None:
    """Refuse unknown filter values, naming the field."""
    errors: list[FieldError] = []
    for s in f.states:
        if s not in {x.value for x in State}:
            errors.append(FieldError("state", f"unknown state '{s}'", "未知的状态"))
    if f.station and f.station.upper() not in ref.units:
        errors.append(FieldError("station", f"unknown station '{f.station}'", "未知的服务站"))
    if f.unit and f.unit.upper() not in ref.units:
        errors.append(FieldError("unit", f"unknown unit '{f.unit}'", "未知的单位"))
    if f.service and f.service not in ref.services:
        errors.append(FieldError("service", f"unknown service '{f.service}'", "未知的服务事项"))
    if f.channel and f.channel not in CHANNELS:
        errors.append(FieldError("channel", f"unknown channel '{f.channel}'", "未知的受理渠道"))
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors.append(FieldError("date_to", "date_to is before date_from", "结束日期早于开始日期"))
    if f.id_tail is not None and not _TAIL.match(f.id_tail):
        errors.append(
            FieldError("id_tail", "the last 4 characters of an ID number", "请输入身份证号后4位")
        )
    if f.q is not None and len(f.q.strip()) > 40:
        errors.append(FieldError("q", "at most 40 characters", "最多40个字符"))
    if errors:
        raise ValidationFailed(errors)
