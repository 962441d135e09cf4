"""Pure working-day arithmetic over official year schedules (no I/O, no framework imports)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta

from yibao.calendar.statutory import statutory_holidays

# Years a schedule file may name and the range searched in chinesecalendar; arithmetic itself
# works for any year that ``datetime.date`` can hold.
FIRST_YEAR = 1900
LAST_YEAR = 2200


def _weekday(ordinal: int) -> int:
    # date.fromordinal(1) is a Monday, so this equals date.fromordinal(ordinal).weekday()
    # without allocating a date per day while building a year.
    return (ordinal - 1) % 7


@dataclass(frozen=True)
class YearSchedule:
    """The official days off and make-up working days of one year."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise TypeError(f"year must be an int, not {type(self.year).__name__}")
        if not MINYEAR <= self.year <= MAXYEAR:
            raise ValueError(f"year {self.year} is out of range")
        # Callers often pass plain sets; freezing keeps the dataclass hashable and immutable.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        for name, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            for d in days:
                # A datetime never equals the date of the same day, so it would silently miss.
                if not isinstance(d, date) or isinstance(d, datetime):
                    raise TypeError(f"{name}: {d!r} is not a date")
                if d.year != self.year:
                    raise ValueError(f"{name}: {d.isoformat()} is not in {self.year}")
        both = self.holidays & self.workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"both a holiday and a workday: {listed}")


@dataclass(frozen=True)
class DayResult:
    """A computed date; ``estimated`` when a year involved has no official schedule."""

    date: date
    estimated: bool


@dataclass(frozen=True)
class CountResult:
    """A signed count of working days; ``estimated`` as for :class:`DayResult`."""

    days: int
    estimated: bool


class WorkCalendar:
    """Working-day arithmetic; a year without a schedule is estimated.

    An estimated year counts weekends and the statutory holidays the national rules fix
    (``statutory.py``); only its make-up working days are unknown.
    """

    def __init__(self, schedules: Iterable[YearSchedule] = ()) -> None:
        # A later schedule for the same year replaces an earlier one, so an imported file can
        # override the data bundled with chinesecalendar.
        self._schedules: dict[int, YearSchedule] = {s.year: s for s in schedules}
        self._official: list[int] = sorted(self._schedules)
        # Per-year sorted ordinals of working days, built on first use. Concurrent first use
        # may build a year twice; both results are equal, so no lock is needed.
        self._ordinals: dict[int, array[int]] = {}

    def is_official(self, year: int) -> bool:
        """Whether ``year`` has an official schedule."""
        return year in self._schedules

    def official_years(self) -> list[int]:
        """The years with an official schedule, ascending."""
        return list(self._official)

    def schedule(self, year: int) -> YearSchedule | None:
        """The official schedule of ``year``, or None when it is estimated."""
        return self._schedules.get(year)

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day."""
        s = self._schedules.get(d.year)
        day = d if type(d) is date else date(d.year, d.month, d.day)
        if s is not None:
            if day in s.workdays:
                return True
            if day in s.holidays:
                return False
        elif day in statutory_holidays(day.year):
            return False
        return day.weekday() < 5

    def next_working_day(self, d: date) -> date:
        """The first working day on or after ``d``."""
        return date.fromordinal(self._first_on_or_after(d.toordinal(), d.year)[0])

    def add_working_days(self, start: date, n: int) -> DayResult:
        """The n-th working day after ``start`` (before it if n < 0; n == 0: next_working_day)."""
        s = start.toordinal()
        year = start.year
        if n == 0:
            result, year = self._first_on_or_after(s, year)
        elif n > 0:
            ords = self._year(year)
            i = bisect_right(ords, s) + n - 1
            while i >= len(ords):
                i -= len(ords)
                year = self._step(year, 1)
                ords = self._year(year)
            result = ords[i]
        else:
            ords = self._year(year)
            i = bisect_left(ords, s) + n
            while i < 0:
                year = self._step(year, -1)
                ords = self._year(year)
                i += len(ords)
            result = ords[i]
        lo, hi = sorted((start.year, year))
        return DayResult(date.fromordinal(result), not self._all_official(lo, hi))

    def working_days_between(self, a: date, b: date) -> CountResult:
        """Working days in (a, b] if b >= a, else minus those in (b, a]."""
        if b < a:
            c = self.working_days_between(b, a)
            return CountResult(-c.days, c.estimated)
        oa, ob = a.toordinal(), b.toordinal()
        ya, yb = a.year, b.year
        first = self._year(ya)
        if ya == yb:
            days = bisect_right(first, ob) - bisect_right(first, oa)
        else:
            days = len(first) - bisect_right(first, oa)
            days += sum(len(self._year(y)) for y in range(ya + 1, yb))
            days += bisect_right(self._year(yb), ob)
        return CountResult(days, not self._all_official(ya, yb))

    def _first_on_or_after(self, ordinal: int, year: int) -> tuple[int, int]:
        ords = self._year(year)
        i = bisect_left(ords, ordinal)
        while i == len(ords):
            year = self._step(year, 1)
            ords = self._year(year)
            i = 0
        return ords[i], year

    @staticmethod
    def _step(year: int, delta: int) -> int:
        year += delta
        if not MINYEAR <= year <= MAXYEAR:
            raise OverflowError("working-day arithmetic left the range of datetime.date")
        return year

    def _all_official(self, lo: int, hi: int) -> bool:
        official = bisect_right(self._official, hi) - bisect_left(self._official, lo)
        return official == hi - lo + 1

    def _year(self, year: int) -> array[int]:
        ords = self._ordinals.get(year)
        if ords is None:
            ords = self._build(year)
            self._ordinals[year] = ords
        return ords

    def _build(self, year: int) -> array[int]:
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        s = self._schedules.get(year)
        days_off = s.holidays if s else statutory_holidays(year)
        off = {d.toordinal() for d in days_off}
        on = {d.toordinal() for d in s.workdays} if s else set()
        return array(
            "i",
            (o for o in range(first, last + 1) if o in on or (o not in off and _weekday(o) < 5)),
        )


def schedules_from_chinesecalendar(years: Iterable[int] | None = None) -> list[YearSchedule]:
    """Schedules for ``years`` (default: every year chinesecalendar supports) from its data."""
    # Imported here so that code which only does arithmetic does not load the package's tables.
    import chinese_calendar

    def supported(y: int) -> bool:
        try:
            chinese_calendar.is_workday(date(y, 1, 1))
        except NotImplementedError:
            return False
        return True

    wanted = (
        [y for y in range(FIRST_YEAR, LAST_YEAR + 1) if supported(y)] if years is None else years
    )
    out: list[YearSchedule] = []
    for y in wanted:
        holidays: set[date] = set()
        workdays: set[date] = set()
        d = date(y, 1, 1)
        while d.year == y:
            working = bool(chinese_calendar.is_workday(d))
            weekend = d.weekday() >= 5
            if weekend and working:
                workdays.add(d)
            elif not weekend and not working:
                holidays.add(d)
            d += timedelta(days=1)
        out.append(YearSchedule(y, frozenset(holidays), frozenset(workdays), "chinesecalendar"))
    return out


def recount(old: WorkCalendar, new: WorkCalendar, start: date, due: date) -> DayResult:
    """The due date ``due`` that ``old`` counted from ``start``, counted again on ``new``."""
    # The working days between the clock's start and the old due date are the limit (or the
    # days left at a 补正 pause) that produced it; counting them again keeps the promise.
    days = old.working_days_between(start, due).days
    if days == 1 and not old.is_working_day(start):
        days = 0  # a limit of 0 on a day off meant "the next working day"
    return new.add_working_days(start, days)
