"""The period and the station filter a report covers, parsed from a filter form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from yibao.errors import FieldError, ValidationFailed

DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year and a leap day: longer periods belong in an export of the raw cases


@dataclass(frozen=True)
class Period:
    """An inclusive range of agency-local dates."""

    date_from: date
    date_to: date

    @property
    def days(self) -> list[date]:
        """Every date of the period, in order."""
        n = (self.date_to - self.date_from).days
        return [self.date_from + timedelta(days=i) for i in range(n + 1)]


def default_period(today: date) -> Period:
    """The last ``DEFAULT_DAYS`` days, today included."""
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_period(raw_from: str | None, raw_to: str | None, *, today: date) -> Period:
    """The period of a filter form (``from``/``to`` as YYYY-MM-DD; blank means the default)."""
    errors: list[FieldError] = []
    default = default_period(today)

    def one(name: str, raw: str | None, fallback: date) -> date | None:
        text = (raw or "").strip()
        if not text:
            return fallback
        try:
            if len(text) != 10:
                raise ValueError
            return date.fromisoformat(text)
        except ValueError:
            errors.append(FieldError(name, "a date as YYYY-MM-DD", "请输入日期，格式如 2026-01-31"))
            return None

    start = one("from", raw_from, default.date_from)
    end = one("to", raw_to, default.date_to)
    if start is not None and end is not None:
        if start > end:
            errors.append(FieldError("to", "the end is before the start", "结束日期早于开始日期"))
        elif (end - start).days + 1 > MAX_DAYS:
            errors.append(
                FieldError("to", f"at most {MAX_DAYS} days", f"统计区间最长 {MAX_DAYS} 天")
            )
    if errors:
        raise ValidationFailed(errors)
    assert start is not None and end is not None
    return Period(start, end)


@dataclass(frozen=True)
class OverviewFilter:
    """Which stations and which period the overview covers; ``None`` means all."""

    period: Period
    kind: str | None = None
    town: str | None = None  # town code
