"""The statutory public holidays the national rules fix, for years without an official schedule.

Pure: dates come from the Chinese lunisolar calendar and solar terms of ``lunar_python``
(6tail's library), never from tables kept by hand. Only the make-up working days (调休) of a
year cannot be known before the State Council publishes its notice.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar, Solar

# 全国年节及纪念日放假办法 changed twice since 清明, 端午 and 中秋 became days off in 2008; each
# year is estimated under the rules in force then, so the estimate can be checked against the
# published schedules of the past. (first year, 春节 starts on 除夕, 春节 days, 劳动节 days)
_RULES: tuple[tuple[int, bool, int, int], ...] = (
    (2025, True, 4, 2),  # amended 2024: 除夕 to 初三, 5/1-5/2 (13 days a year)
    (2014, False, 3, 1),  # amended 2013: 初一 to 初三, 5/1 (11 days)
    (2008, True, 3, 1),  # amended 2007: 除夕 to 初二, 5/1 (11 days)
)


def _rule(year: int) -> tuple[bool, int, int]:
    for first, eve, spring, labour in _RULES:
        if year >= first:
            return eve, spring, labour
    # Before 2008 the traditional festivals other than 春节 were no days off; the current
    # rules are the better guess for arithmetic that strays that far back.
    return _RULES[0][1:]


def _lunar(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # The 清明 term always falls on 4 or 5 April; the jieqi table of a day in April holds it.
    term = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    return date(term.getYear(), term.getMonth(), term.getDay())


@lru_cache(maxsize=512)
def statutory_holidays_by_name(year: int) -> tuple[tuple[str, tuple[date, ...]], ...]:
    """Each statutory holiday of ``year`` with its days (Chinese name, ascending days)."""
    eve, spring_days, labour_days = _rule(year)
    # 除夕 is the day before 正月初一, whether the 12th lunar month has 29 or 30 days.
    first = _lunar(year, 1, 1) - timedelta(days=1 if eve else 0)
    spring = tuple(first + timedelta(days=i) for i in range(spring_days))
    return (
        ("元旦", (date(year, 1, 1),)),
        ("春节", spring),
        ("清明节", (_qingming(year),)),
        ("劳动节", tuple(date(year, 5, 1 + i) for i in range(labour_days))),
        ("端午节", (_lunar(year, 5, 5),)),
        ("中秋节", (_lunar(year, 8, 15),)),
        ("国庆节", (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3))),
    )


@lru_cache(maxsize=512)
def statutory_holidays(year: int) -> frozenset[date]:
    """Every statutory day off of ``year`` under the national rules in force that year."""
    return frozenset(d for _, days in statutory_holidays_by_name(year) for d in days)
