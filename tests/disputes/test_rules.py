"""The dispute lifecycle table, statements kept apart, and deadlines over the official calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.disputes import rules
from yibao.disputes.rules import TERMINAL, TRANSITIONS, Action, Command, DisputeState
from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed

TODAY = date(2026, 9, 29)
CAL = WorkCalendar(schedules_from_chinesecalendar([2025, 2026]))
GOOD = {
    Action.MEDIATE: Command(Action.MEDIATE),
    Action.AGREE: Command(Action.AGREE, terms="医院退费"),
    Action.ESCALATE: Command(Action.ESCALATE, escalated_to="区卫健委"),
    Action.WITHDRAW: Command(Action.WITHDRAW, withdrawn_by="patient"),
}
KW = {"role": "clerk", "unit": "F01", "station": "F01", "today": TODAY}


def test_the_table_reaches_every_state_and_ends() -> None:
    reached = {rules.INITIAL}
    for (s, _a), t in TRANSITIONS.items():
        assert s not in TERMINAL
        reached.add(t)
    assert reached == set(DisputeState)
    assert TRANSITIONS[(DisputeState.OPEN, Action.WITHDRAW)] is DisputeState.WITHDRAWN


@pytest.mark.parametrize("state", list(DisputeState))
@pytest.mark.parametrize("action", list(Action))
def test_decide_follows_the_table(state: DisputeState, action: Action) -> None:
    target = TRANSITIONS.get((state, action))
    if target is None:
        with pytest.raises(ActionNotAllowed):
            rules.decide(state, GOOD[action], **KW)  # type: ignore[arg-type]
        return
    d = rules.decide(state, GOOD[action], **KW)  # type: ignore[arg-type]
    assert d.to_state is target and ("closed_date" in d.changes) == (target in TERMINAL)
    for role, unit in (("clerk", "F02"), ("supervisor", None), ("auditor", None), ("admin", None)):
        with pytest.raises(Forbidden):
            rules.decide(state, GOOD[action], role=role, unit=unit, station="F01", today=TODAY)
    assert rules.decide(
        state, GOOD[action], role="bureau_officer", unit=None, station="F01", today=TODAY
    )
    if action is not Action.MEDIATE:
        with pytest.raises(ValidationFailed):
            rules.decide(state, Command(action), **KW)  # type: ignore[arg-type]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(Action)), max_size=10))
def test_random_sequences(actions: list[Action]) -> None:
    state = rules.INITIAL
    for a in actions:
        try:
            state = rules.decide(state, GOOD[a], **KW).to_state  # type: ignore[arg-type]
        except ActionNotAllowed:
            assert (state, a) not in TRANSITIONS


def test_statements_only_from_parties_present() -> None:
    ok = rules.check_session(["hospital", "patient"], {"hospital": "甲", "patient": "乙"}, "李婷")
    assert ok == []
    errors = rules.check_session(["hospital"], {"patient": "乙", "mediator": "丙"}, "")
    assert {e.field for e in errors} == {"statements.patient", "statements.mediator", "mediator"}
    assert {e.field for e in rules.check_session([], {}, "李婷")} == {"parties_present"}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=1, max_value=rules.MAX_LIMIT_DAYS),
)
def test_deadline_counts_working_days_and_the_light(opened: date, days: int) -> None:
    due = rules.due_date(CAL, opened, days).date
    assert CAL.is_working_day(due)
    assert CAL.working_days_between(opened, due).days == days
    # Green before the last working day, yellow on it, red the day after.
    before = CAL.add_working_days(due, -1).date
    if before > opened:
        assert rules.timing(CAL, today=before, due=due, closed=None).light == "green"
    assert rules.timing(CAL, today=due, due=due, closed=None).light == "yellow"
    assert rules.timing(CAL, today=due + timedelta(days=1), due=due, closed=None).light == "red"
    assert rules.timing(CAL, today=due + timedelta(days=9), due=due, closed=due).light == "green"


def test_national_day_2026() -> None:
    # 10/1-10/7 off, Sat 10/10 a make-up working day.
    assert rules.due_date(CAL, TODAY, 4).date == date(2026, 10, 10)
    assert rules.due_date(CAL, TODAY, 15).date == date(2026, 10, 26)
