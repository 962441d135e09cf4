"""Due dates per second: WorkCalendar.add_working_days against a day-by-day chinesecalendar loop.

Run with ``python bench/bench_calendar.py``; writes bench/results/calendar.json.
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.calendar.statutory import statutory_holidays

LIMITS = (0, 1, 5, 10, 15, 60, 250)
CASES = 5_000
# chinese_calendar.is_workday costs ~35 us (it scans its whole table for the year range on every
# call), so the naive loop gets a prefix of the same cases to stay well under 30 s.
NAIVE_CASES = 500
REPEATS = 5
SEED = 20260101
RESULTS = Path(__file__).resolve().parent / "results" / "calendar.json"

Case = tuple[date, int]


def naive_is_workday(d: date) -> bool:
    """chinesecalendar's verdict; past its last year the estimate, as the calendar does."""
    if d.year > 2026:  # late-2026 intakes with long limits run into 2027, which it rejects
        return d.weekday() < 5 and d not in statutory_holidays(d.year)
    return bool(chinese_calendar.is_workday(d))


def naive_add(start: date, n: int) -> date:
    """The n-th working day after ``start`` by walking one day at a time."""
    d = start
    if n == 0:
        while not naive_is_workday(d):
            d += timedelta(days=1)
        return d
    while n:
        d += timedelta(days=1)
        if naive_is_workday(d):
            n -= 1
    return d


def make_cases(rng: random.Random) -> list[Case]:
    """Random intake dates in 2010-2026 with limits drawn from LIMITS."""
    first, last = date(2010, 1, 1).toordinal(), date(2026, 12, 31).toordinal()
    return [(date.fromordinal(rng.randint(first, last)), rng.choice(LIMITS)) for _ in range(CASES)]


def rate(fn: Callable[[date, int], object], cases: list[Case]) -> float:
    """Computations per second of ``fn`` over ``cases``."""
    t0 = time.perf_counter()
    for start, n in cases:
        fn(start, n)
    return len(cases) / (time.perf_counter() - t0)


def main() -> None:
    """Run the benchmark, print medians and the ratio, write JSON."""
    cases = make_cases(random.Random(SEED))
    t0 = time.perf_counter()
    cal = WorkCalendar(schedules_from_chinesecalendar())
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cal.add_working_days(date(2010, 1, 1), 5_000)  # first use builds the year arrays
    warm_s = time.perf_counter() - t0

    naive_cases = cases[:NAIVE_CASES]
    mismatches = sum(cal.add_working_days(s, n).date != naive_add(s, n) for s, n in naive_cases)
    if mismatches:
        sys.exit(f"{mismatches} due dates differ between WorkCalendar and the naive loop")

    fast, naive = [], []
    for _ in range(REPEATS):
        fast.append(rate(cal.add_working_days, cases))
        naive.append(rate(naive_add, naive_cases))
    fast_med, naive_med = statistics.median(fast), statistics.median(naive)
    result = {
        "benchmark": "due dates per second (add_working_days)",
        "cases": CASES,
        "naive_cases": NAIVE_CASES,
        "repeats": REPEATS,
        "seed": SEED,
        "limits": list(LIMITS),
        "intake_years": [2010, 2026],
        "workcalendar_per_s": round(fast_med),
        "naive_chinesecalendar_per_s": round(naive_med),
        "ratio": round(fast_med / naive_med, 1),
        "workcalendar_runs": [round(x) for x in fast],
        "naive_runs": [round(x) for x in naive],
        "build_schedules_s": round(build_s, 4),
        "build_year_arrays_s": round(warm_s, 4),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
    print(f"WorkCalendar.add_working_days: {fast_med:>12,.0f} due dates/s (median of {REPEATS})")
    print(f"naive chinese_calendar loop:   {naive_med:>12,.0f} due dates/s (median of {REPEATS})")
    print(f"ratio:                         {fast_med / naive_med:>12,.1f}x")
    print(f"one-off: schedules {build_s * 1e3:.1f} ms, year arrays {warm_s * 1e3:.1f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
