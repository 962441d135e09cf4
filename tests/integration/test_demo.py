"""The demo generator: deterministic, and every case is one the lifecycle could have produced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from yibao.accounts.models import User
from yibao.bootstrap import init_reference
from yibao.cases.lifecycle import OPEN, TERMINAL, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.queries import overdue_clause
from yibao.config import Settings
from yibao.db import Database
from yibao.demo.generate import DEMO_USERS, WINDOW_DAYS, generate, visit_days
from yibao.migrate import upgrade
from yibao.people.rules import name_initials, parse_id_number
from yibao.runtime import Reference, load_reference

TODAY = date(2026, 11, 27)  # a Friday; the window spans the National Day holiday of 2026
CASES = 600
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Demo:
    """A generated demo database, read back."""

    settings: Settings
    made: int
    cases: list[Case]
    events: dict[object, list[CaseEvent]]
    ref: Reference
    users: list[User]
    overdue: int


def build(path: Path) -> Demo:
    """A fresh SQLite node under ``path`` with the demo data of the default seed."""
    path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path / 'yibao.sqlite3'}"
    settings = Settings(data_dir=path, database_url=url)
    upgrade(url)
    init_reference(settings)
    made = generate(settings, cases=CASES, today=TODAY)
    return read_back(settings, made)


def read_back(settings: Settings, made: int = 0) -> Demo:
    """Everything the checks need, read from the node's database."""
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as s:
            cases = list(s.scalars(select(Case).order_by(Case.case_no)))
            events: dict[object, list[CaseEvent]] = defaultdict(list)
            for ev in s.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
                events[ev.case_id].append(ev)
            overdue = s.scalar(select(func.count()).select_from(Case).where(overdue_clause(TODAY)))
            return Demo(
                settings,
                made,
                cases,
                events,
                load_reference(s, settings.agency),
                list(s.scalars(select(User))),
                overdue or 0,
            )
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build(tmp_path_factory.mktemp("demo"))


def test_same_seed_same_cases(demo: Demo, tmp_path: Path) -> None:
    again = build(tmp_path / "again")
    assert demo.made == again.made == CASES == len(demo.cases)
    first = [(c.case_no, c.state, c.due_date) for c in demo.cases]
    assert first == [(c.case_no, c.state, c.due_date) for c in again.cases]


def test_demo_users_exist_and_a_second_run_adds_cases_only(tmp_path: Path) -> None:
    first = build(tmp_path / "twice")
    assert {u.username for u in first.users} == {u for u, _, _ in DEMO_USERS}
    assert generate(first.settings, cases=50, seed=7, today=TODAY) == 50
    second = read_back(first.settings)
    assert len(second.users) == len(first.users)
    assert len({c.case_no for c in second.cases}) == CASES + 50


def test_rows_are_what_the_timeline_produced(demo: Demo) -> None:
    for case in demo.cases:
        events = demo.events[case.id]
        assert case.version == len(events), case.case_no
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].action == "intake"
        assert events[0].from_state is None
        assert events[0].to_state == State.RECEIVED
        for before, after in pairwise(events):
            assert after.from_state == before.to_state, case.case_no
            assert after.at >= before.at, case.case_no
        assert events[-1].to_state == case.state
        assert case.updated_at == events[-1].at
        assert (case.closed_date is not None) == (case.state in TERMINAL)
        if case.closed_date is not None:
            assert case.closed_date == events[-1].at.astimezone(TZ).date()


def test_every_state_appears(demo: Demo) -> None:
    assert {c.state for c in demo.cases} == {s.value for s in State}


def test_materials_and_units_are_consistent(demo: Demo) -> None:
    bureau = demo.ref.bureau_unit()
    for case in demo.cases:
        service = demo.ref.services[case.service_code]
        if case.state == State.MATERIALS_PENDING:
            # 一次性告知: every outstanding material is listed, and the clock is frozen.
            outstanding = [m for m in service.materials if m not in case.materials_received]
            assert case.materials_missing == outstanding, case.case_no
            assert case.remaining_days is not None
        elif case.state in OPEN:
            # Closing from 待补正 keeps what was missing, so only open cases are checked here.
            assert case.materials_missing == []
            assert case.remaining_days is None
        if case.state == State.FORWARDED:
            assert case.unit == bureau
        if case.state == State.COMPLETED:
            assert demo.ref.units[case.unit] in service.complete_kinds, case.case_no
        kind = demo.ref.units[case.intake_station]
        assert kind in service.accept_kinds
        if case.service_code == "supervision_lead":
            assert kind == "fixed"


def test_some_open_cases_are_overdue_but_few(demo: Demo) -> None:
    open_cases = [c for c in demo.cases if c.state in OPEN]
    assert open_cases
    assert 0 < demo.overdue < 0.15 * len(open_cases)


def test_intake_days_follow_the_calendar_and_itineraries(demo: Demo) -> None:
    calendar = demo.ref.calendar
    first = TODAY - timedelta(days=WINDOW_DAYS)
    visits = {
        code: set(visit_days(code, first, TODAY, calendar))
        for code, kind in demo.ref.units.items()
        if kind == "mobile"
    }
    for case in demo.cases:
        local = case.received_at.astimezone(TZ)
        assert local.date() == case.intake_date
        assert first <= case.intake_date < TODAY
        assert time(8, 30) <= local.time() <= time(17, 30), case.case_no
        if case.intake_station in visits:
            assert case.channel == "mobile"
            assert case.intake_date in visits[case.intake_station], case.case_no
        else:
            assert case.channel != "mobile"
            assert calendar.is_working_day(case.intake_date), case.case_no
    # A mobile team keeps to one or two weekdays, plus an occasional market-day Saturday.
    for code, days in visits.items():
        weekdays = {d.weekday() for d in days if calendar.is_working_day(d)}
        assert 1 <= len(weekdays) <= 2, code
        assert all(calendar.is_working_day(d) or d.weekday() == 5 for d in days), code


def test_applicants_are_synthetic_and_valid(demo: Demo) -> None:
    numbers = set()
    for case in demo.cases:
        parsed = parse_id_number(case.applicant_id_number, today=TODAY)
        assert parsed.region_code == "500118" or parsed.region_code.startswith("5001")
        assert date(1940, 1, 1) <= parsed.birth_date <= date(2005, 12, 31)
        assert case.applicant_id_tail == parsed.tail
        assert case.applicant_initials == name_initials(case.applicant_name)
        assert case.applicant_phone[:2] in ("13", "15", "18") and len(case.applicant_phone) == 11
        assert case.case_no.startswith(f"{case.intake_date:%Y%m%d}") and len(case.case_no) == 15
        numbers.add(case.case_no)
    assert len(numbers) == len(demo.cases)
