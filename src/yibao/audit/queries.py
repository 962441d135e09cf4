"""The auditor's search: query parameters → a validated filter → one SQL statement. No I/O
except :func:`search` and :func:`actor_ids`, which run the statement.

Pages walk the trail newest first with a keyset cursor (the last record id seen), so the
thousandth page costs what the first one does. The statement only uses the indexed columns
(agency with at, actor_id, action, object_type/object_id; migration 0021) for the common
filters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from yibao.accounts.models import User
from yibao.audit.models import AuditRecord
from yibao.errors import FieldError, ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
RESULTS = ("ok", "denied", "failed")
# Field → longest accepted value (the column widths of audit_records).
MAX_LENGTH: dict[str, int] = {
    "actor": 64,
    "object_type": 20,
    "object_id": 64,
    "action": 40,
    "request_id": 64,
}
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
_DIGITS = re.compile(r"^[0-9]{1,18}$")
MAX_ACTOR_ID = 2**31 - 1  # actor_id is an INTEGER column
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor asked for; every field optional (no filter = the whole trail)."""

    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None  # a prefix: "case." matches every case action
    result: str | None = None
    date_from: date | None = None  # agency-local dates, both inclusive
    date_to: date | None = None
    request_id: str | None = None
    cursor: int | None = None
    limit: int = DEFAULT_LIMIT

    def query_items(self) -> dict[str, str]:
        """The filter back as query parameters (links to the next page keep it)."""
        out = {
            "actor": self.actor,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "action": self.action,
            "result": self.result,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "request_id": self.request_id,
        }
        if self.limit != DEFAULT_LIMIT:
            out["limit"] = str(self.limit)
        return {k: v for k, v in out.items() if v}


def parse_date(field: str, raw: str | None, errors: list[FieldError]) -> date | None:
    """A YYYY-MM-DD date, or None when empty; a bad one adds an error naming ``field``."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        value = None
    if value is None:
        errors.append(FieldError(field, "a date as YYYY-MM-DD", "日期格式不正确，应为 YYYY-MM-DD"))
        return None
    if not EARLIEST <= value <= LATEST:
        errors.append(FieldError(field, "date out of range", "日期超出范围"))
        return None
    return value


def _text(params: Mapping[str, str], field: str, errors: list[FieldError]) -> str | None:
    value = (params.get(field) or "").strip()
    if not value:
        return None
    if len(value) > MAX_LENGTH[field]:
        errors.append(
            FieldError(
                field,
                f"at most {MAX_LENGTH[field]} characters",
                f"最多 {MAX_LENGTH[field]} 个字符",
            )
        )
        return None
    if _CONTROL.search(value):
        errors.append(FieldError(field, "control characters are not allowed", "含有不允许的字符"))
        return None
    return value


def parse_filter(params: Mapping[str, str]) -> AuditFilter:
    """Validate query parameters; every bad one is named (ValidationFailed, 422)."""
    errors: list[FieldError] = []
    texts = {f: _text(params, f, errors) for f in MAX_LENGTH}
    result = (params.get("result") or "").strip() or None
    if result is not None and result not in RESULTS:
        errors.append(FieldError("result", "ok, denied or failed", "结果须为 成功、拒绝 或 失败"))
        result = None
    date_from = parse_date("from", params.get("from"), errors)
    date_to = parse_date("to", params.get("to"), errors)
    if date_from and date_to and date_to < date_from:
        errors.append(FieldError("to", "before the start date", "结束日期早于开始日期"))
    cursor = None
    raw_cursor = (params.get("cursor") or "").strip()
    if raw_cursor:
        if _DIGITS.match(raw_cursor) and int(raw_cursor) > 0:
            cursor = int(raw_cursor)
        else:
            errors.append(FieldError("cursor", "not a cursor from this list", "翻页参数不正确"))
    limit = DEFAULT_LIMIT
    raw_limit = (params.get("limit") or "").strip()
    if raw_limit:
        if raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors.append(
                FieldError(
                    "limit", f"a whole number 1–{MAX_LIMIT}", f"须为 1 至 {MAX_LIMIT} 的整数"
                )
            )
    if errors:
        raise ValidationFailed(errors)
    return AuditFilter(
        actor=texts["actor"],
        object_type=texts["object_type"],
        object_id=texts["object_id"],
        action=texts["action"],
        result=result,
        date_from=date_from,
        date_to=date_to,
        request_id=texts["request_id"],
        cursor=cursor,
        limit=limit,
    )


def local_bounds(
    date_from: date | None, date_to: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Agency-local dates (both inclusive) as a half-open UTC range [start, end)."""
    start = datetime.combine(date_from, time(), tz) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time(), tz) if date_to else None
    return start, end


def column(name: str) -> InstrumentedAttribute[Any] | None:
    """A column of AuditRecord that another part of the audit slice may not have added yet."""
    attr = getattr(AuditRecord, name, None)
    return attr if isinstance(attr, InstrumentedAttribute) else None


def _is_user_id(text: str) -> bool:
    return bool(_DIGITS.match(text)) and int(text) <= MAX_ACTOR_ID


def _next_prefix(prefix: str) -> str:
    # The first string after every string that starts with ``prefix`` (binary collation).
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def statement(
    f: AuditFilter,
    *,
    agency: str,
    tz: ZoneInfo,
    actor_ids: list[int] | None = None,
    dialect: str = "postgresql",
) -> Select[Any]:
    """The page of records the filter selects, newest first (one more than the limit).

    ``f.actor`` is a user id (digits) or a name: ``actor_ids`` are the users whose username
    or display name it is (see :func:`actor_ids`); when no user has it, records written
    without a user (the public, the system) match by their actor name.
    """
    r = AuditRecord
    where: list[Any] = [r.agency == agency]
    if f.actor:
        # One indexed condition each (no OR across indexes: the newest-first walk stays an
        # index scan even for an actor with a million records).
        if _is_user_id(f.actor):
            where.append(r.actor_id == int(f.actor))
        elif actor_ids:
            where.append(r.actor_id.in_(actor_ids))
        else:
            where.append(r.actor_name == f.actor)
    if f.object_type:
        where.append(r.object_type == f.object_type)
    if f.object_id:
        where.append(r.object_id == f.object_id)
    if f.action:
        cond: Any = r.action.like(_escape_like(f.action) + "%", escape="\\")
        if dialect == "sqlite":  # LIKE is not sargable in SQLite; a range on the index is
            cond = and_(r.action >= f.action, r.action < _next_prefix(f.action), cond)
        where.append(cond)
    result_col = column("result")
    if f.result and result_col is not None:
        where.append(result_col == f.result)
    request_col = column("request_id")
    if f.request_id and request_col is not None:
        where.append(request_col == f.request_id)
    start, end = local_bounds(f.date_from, f.date_to, tz)
    if start is not None:
        where.append(r.at >= start)
    if end is not None:
        where.append(r.at < end)
    if f.cursor is not None:
        where.append(r.id < f.cursor)
    return select(r).where(*where).order_by(r.id.desc()).limit(f.limit + 1)


def actor_ids(session: Session, agency: str, name: str) -> list[int]:
    """Users of the agency whose username or display name is ``name``."""
    rows = session.scalars(
        select(User.id).where(
            User.agency == agency, or_(User.username == name, User.display_name == name)
        )
    )
    return list(rows)


@dataclass(frozen=True)
class Page:
    """One page of records and the cursor of the next (None on the last page)."""

    items: list[AuditRecord]
    next_cursor: str | None


def search(session: Session, f: AuditFilter, *, agency: str, tz: ZoneInfo) -> Page:
    """Run the filter."""
    ids = actor_ids(session, agency, f.actor) if f.actor and not _is_user_id(f.actor) else None
    dialect = session.get_bind().dialect.name
    stmt = statement(f, agency=agency, tz=tz, actor_ids=ids, dialect=dialect)
    rows: list[AuditRecord] = list(session.scalars(stmt))
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return Page(rows, str(rows[-1].id) if more and rows else None)
