"""The rating rules and the rectification lifecycle table, walked completely (pure)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, YearSchedule
from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed
from yibao.ratings import rules
from yibao.ratings.rules import Standing, TaskAction, TaskSnapshot, TaskState

TODAY = date(2026, 9, 29)
ALL = frozenset(Standing)


def snap(state: TaskState, follow_ups: int = 1, due: date = TODAY) -> TaskSnapshot:
    return TaskSnapshot(state, due, follow_ups)


def note_for(action: TaskAction) -> str | None:
    return "说明" if action in rules.NEEDS_NOTE else None


# ---------------------------------------------------------------- the table


def test_every_state_is_reachable_from_open() -> None:
    seen = {rules.INITIAL}
    frontier = [rules.INITIAL]
    while frontier:
        state = frontier.pop()
        for (src, _a), dst in rules.TRANSITIONS.items():
            if src == state and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(TaskState)


def test_terminal_states_have_no_exits_and_every_other_state_one() -> None:
    for state in TaskState:
        exits = rules.allowed(state)
        assert (exits == []) == (state in rules.TERMINAL), state


def test_the_documented_paths() -> None:
    T = rules.TRANSITIONS
    assert T[(TaskState.OPEN, TaskAction.RECTIFY)] is TaskState.RECTIFIED
    assert T[(TaskState.RECTIFIED, TaskAction.CLOSE)] is TaskState.CLOSED
    assert T[(TaskState.OPEN, TaskAction.APPEAL)] is TaskState.APPEALED
    assert T[(TaskState.APPEALED, TaskAction.UPHOLD)] is TaskState.CLOSED
    assert T[(TaskState.APPEALED, TaskAction.DISMISS)] is TaskState.OPEN


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("action", list(TaskAction))
def test_every_cell_of_the_table(state: TaskState, action: TaskAction) -> None:
    """Each (state, action): the table's target for an allowed standing, else the refusal."""
    target = rules.TRANSITIONS.get((state, action))
    if target is None:
        with pytest.raises(ActionNotAllowed) as info:
            rules.decide(snap(state), action, ALL, today=TODAY, note=note_for(action))
        assert info.value.allowed == [a.value for a in rules.allowed(state)]
        return
    for standing in Standing:
        if standing in rules.MAY[action]:
            d = rules.decide(snap(state), action, {standing}, today=TODAY, note=note_for(action))
            assert (d.from_state, d.to_state) == (state, target)
        else:
            with pytest.raises(Forbidden):
                rules.decide(snap(state), action, {standing}, today=TODAY, note=note_for(action))


def test_only_a_supervisor_decides_an_appeal_and_the_owner_cannot_accept_their_own() -> None:
    assert rules.MAY[TaskAction.UPHOLD] == {Standing.SUPERVISOR}
    assert rules.MAY[TaskAction.DISMISS] == {Standing.SUPERVISOR}
    assert Standing.OWNER not in rules.MAY[TaskAction.CLOSE]
    assert rules.actions_for(TaskState.APPEALED, {Standing.OWNER, Standing.MASTER}) == [
        TaskAction.FOLLOW_UP
    ]


def test_rectify_needs_a_follow_up_first() -> None:
    with pytest.raises(ValidationFailed) as info:
        rules.decide(
            snap(TaskState.OPEN, follow_ups=0),
            TaskAction.RECTIFY,
            {Standing.OWNER},
            today=TODAY,
            note="已整改",
        )
    assert info.value.errors[0].field == "follow_up"
    d = rules.decide(
        snap(TaskState.OPEN),
        TaskAction.RECTIFY,
        {Standing.OWNER},
        today=TODAY,
        note=" 已向群众道歉并优化流程 ",
    )
    assert d.changes == {"rectified_date": TODAY, "rectification": "已向群众道歉并优化流程"}


@pytest.mark.parametrize("action", sorted(rules.NEEDS_NOTE))
def test_actions_that_need_a_note_refuse_a_blank_one(action: TaskAction) -> None:
    state = next(s for (s, a) in rules.TRANSITIONS if a == action)
    with pytest.raises(ValidationFailed) as info:
        rules.decide(snap(state), action, ALL, today=TODAY, note="   ")
    assert info.value.errors[0].field == "note"


def test_closing_records_the_outcome() -> None:
    up = rules.decide(
        snap(TaskState.APPEALED),
        TaskAction.UPHOLD,
        {Standing.SUPERVISOR},
        today=TODAY,
        note="群众误评",
    )
    assert up.changes["outcome"] == "unfounded" and up.changes["closed_date"] == TODAY
    ok = rules.decide(snap(TaskState.RECTIFIED), TaskAction.CLOSE, {Standing.MASTER}, today=TODAY)
    assert ok.changes["outcome"] == "rectified"


# ---------------------------------------------------------------- properties


@given(
    st.lists(st.sampled_from(list(TaskAction)), max_size=25),
    st.sets(st.sampled_from(list(Standing))),
)
def test_any_sequence_of_actions_stays_inside_the_table(
    actions: list[TaskAction], standings: set[Standing]
) -> None:
    state = rules.INITIAL
    follow_ups = 0
    for action in actions:
        try:
            d = rules.decide(
                snap(state, follow_ups), action, standings, today=TODAY, note=note_for(action)
            )
        except (ActionNotAllowed, Forbidden, ValidationFailed):
            continue
        assert rules.TRANSITIONS[(state, action)] == d.to_state
        assert rules.MAY[action] & standings
        if action is TaskAction.FOLLOW_UP:
            follow_ups += 1
        if action is TaskAction.RECTIFY:
            assert follow_ups >= 1
        assert (d.to_state in rules.TERMINAL) == ("closed_date" in d.changes)
        state = d.to_state
    if state in rules.TERMINAL:
        assert rules.allowed(state) == []


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(0, 30))
def test_rectification_due_is_n_working_days_on(day: date, n: int) -> None:
    cal = WorkCalendar(
        [YearSchedule(2026, frozenset({date(2026, 10, 1)}), frozenset({date(2026, 10, 10)}))]
    )
    due = rules.rectify_due(cal, day, n).date
    assert due >= day
    if n > 0:
        assert cal.is_working_day(due)
        assert cal.working_days_between(day, due).days == n


@given(st.dates(), st.dates(), st.dates())
def test_on_time_and_overdue(rectified: date, due: date, today: date) -> None:
    assert rules.on_time(rectified, due) == (rectified <= due)
    assert not rules.on_time(None, due)
    assert rules.overdue(TaskState.OPEN, due, today) == (today > due)
    assert not rules.overdue(TaskState.CLOSED, due, today)
    assert not rules.overdue(TaskState.RECTIFIED, due, today)


# ---------------------------------------------------------------- scores


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_levels_one_to_five_are_accepted_and_bad_means_two_or_less(
    o: int, e: int, s: int, a: int
) -> None:
    scores = rules.check_scores(
        {"overall": str(o), "efficiency": e, "service_level": s, "attitude": a, "comment": ""}
    )
    assert (scores.overall, scores.efficiency, scores.service_level, scores.attitude) == (
        o,
        e,
        s,
        a,
    )
    assert scores.comment is None
    assert scores.bad == (o <= 2)
    assert rules.is_satisfied(o) == (o >= 4)


@given(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(), st.floats()))
def test_anything_else_is_refused_by_field(value: object) -> None:
    good = {"overall": 5, "efficiency": 5, "service_level": 5, "attitude": 5}
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 5:
        return
    with pytest.raises(ValidationFailed) as info:
        rules.check_scores({**good, "attitude": value})
    assert [e.field for e in info.value.errors] == ["attitude"]


def test_digits_other_than_ascii_are_refused_not_a_crash() -> None:
    good = {"overall": 5, "efficiency": 5, "service_level": 5, "attitude": 5}
    for odd in ("¹", "５", "٣", "²"):
        with pytest.raises(ValidationFailed) as info:
            rules.check_scores({**good, "attitude": odd})
        assert [e.field for e in info.value.errors] == ["attitude"]


def test_comment_limits() -> None:
    good = {"overall": 5, "efficiency": 5, "service_level": 5, "attitude": 5}
    assert rules.check_scores({**good, "comment": "  很好  "}).comment == "很好"
    for bad in ("字" * (rules.COMMENT_MAX + 1), 12, "a\x00b"):
        with pytest.raises(ValidationFailed) as info:
            rules.check_scores({**good, "comment": bad})
        assert info.value.errors[0].field == "comment"
    with pytest.raises(ValidationFailed) as info:
        rules.check_scores({})
    assert {e.field for e in info.value.errors} == set(rules.INDICATORS)


def test_due_skips_the_national_day_holiday() -> None:
    cal = WorkCalendar(
        [
            YearSchedule(
                2026,
                frozenset(date(2026, 10, d) for d in range(1, 8)),
                frozenset({date(2026, 10, 10)}),
            )
        ]
    )
    # Tue 9/29 + 5 working days: 9/30, 10/8, 10/9, Sat 10/10 (make-up), 10/12.
    assert rules.rectify_due(cal, TODAY, 5).date == date(2026, 10, 12)
    assert rules.rectify_due(cal, TODAY, 0).date == TODAY
    assert TODAY + timedelta(days=13) == date(2026, 10, 12)
