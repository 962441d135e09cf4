"""The lifecycle table walked completely, and decide() checked rule by rule."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.cases.lifecycle import (
    INITIAL,
    TERMINAL,
    TRANSITIONS,
    Action,
    ActorRef,
    CaseSnapshot,
    Command,
    State,
    allowed_actions,
    decide,
)
from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed

CAL = WorkCalendar(schedules_from_chinesecalendar([2026]))
UNITS = {"BUREAU": "bureau", "F01": "fixed", "V01": "village", "M01": "mobile"}
CLERK_F01 = ActorRef(role="clerk", unit="F01")
TODAY = date(2026, 9, 29)

# DESIGN.md section 4, written out once more by hand: the test that the table is the spec.
SPEC = {
    "start": ({"received"}, "in_progress"),
    "request_materials": ({"received", "in_progress"}, "materials_pending"),
    "supplement": ({"materials_pending"}, "in_progress"),
    "forward": ({"received", "in_progress"}, "forwarded"),
    "take": ({"forwarded"}, "in_progress"),
    "complete": ({"received", "in_progress"}, "completed"),
    "reject": ({"received", "in_progress", "materials_pending"}, "rejected"),
    "withdraw": ({"received", "in_progress", "materials_pending", "forwarded"}, "withdrawn"),
}


def snap(state: State, unit: str = "F01", **over: object) -> CaseSnapshot:
    base = dict(
        state=state,
        unit=unit,
        intake_station="F01",
        due_date=date(2026, 10, 19),
        remaining_days=None,
        materials=("id_card", "invoices", "cost_list"),
        received=("id_card",),
        complete_kinds=frozenset({"bureau", "fixed"}),
    )
    base.update(over)
    return CaseSnapshot(**base)  # type: ignore[arg-type]


def command_for(action: Action) -> Command:
    return Command(
        action=action,
        reason="申请人要求" if action in (Action.REJECT, Action.WITHDRAW) else None,
        missing_materials=("invoices", "cost_list") if action == Action.REQUEST_MATERIALS else (),
        to_unit="bureau" if action == Action.FORWARD else None,
    )


def actor_for(state: State, action: Action) -> tuple[ActorRef, str]:
    # A forwarded case sits with its target; only the target may take it.
    if state == State.FORWARDED and action == Action.TAKE:
        return ActorRef(role="bureau_officer", unit="BUREAU"), "BUREAU"
    if state == State.FORWARDED:
        return CLERK_F01, "BUREAU"
    return CLERK_F01, "F01"


def test_table_is_exactly_the_design() -> None:
    table = {(s.value, a.value): t.value for (s, a), t in TRANSITIONS.items()}
    expected = {(s, a): t for a, (froms, t) in SPEC.items() for s in froms}
    assert table == expected


def test_every_state_reachable_from_initial() -> None:
    seen, frontier = {INITIAL}, [INITIAL]
    while frontier:
        s = frontier.pop()
        for a in allowed_actions(s):
            t = TRANSITIONS[(s, a)]
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    assert seen == set(State)


def test_terminal_states_have_no_exit() -> None:
    assert {State.COMPLETED, State.REJECTED, State.WITHDRAWN} == TERMINAL
    for s in TERMINAL:
        assert allowed_actions(s) == []


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_allowed_or_refused_with_the_allowed_list(state: State, action: Action) -> None:
    actor, unit = actor_for(state, action)
    s = snap(state, unit=unit, remaining_days=3 if state == State.MATERIALS_PENDING else None)
    if (state, action) in TRANSITIONS:
        d = decide(s, command_for(action), actor, today=TODAY, calendar=CAL, unit_kinds=UNITS)
        assert d.to_state == TRANSITIONS[(state, action)]
        assert d.from_state == state
    else:
        with pytest.raises(ActionNotAllowed) as err:
            decide(s, command_for(action), actor, today=TODAY, calendar=CAL, unit_kinds=UNITS)
        assert err.value.allowed == [a.value for a in allowed_actions(state)]


def test_request_materials_must_list_every_missing_material() -> None:
    cmd = Command(Action.REQUEST_MATERIALS, missing_materials=("invoices",))
    with pytest.raises(ValidationFailed) as err:
        decide(snap(State.RECEIVED), cmd, CLERK_F01, today=TODAY, calendar=CAL, unit_kinds=UNITS)
    assert err.value.errors[0].field == "missing_materials"
    assert "cost_list" in err.value.errors[0].message


def test_request_materials_refuses_unknown_material() -> None:
    cmd = Command(Action.REQUEST_MATERIALS, missing_materials=("invoices", "cost_list", "x"))
    with pytest.raises(ValidationFailed) as err:
        decide(snap(State.RECEIVED), cmd, CLERK_F01, today=TODAY, calendar=CAL, unit_kinds=UNITS)
    assert err.value.errors[0].field == "missing_materials[2]"


def test_pause_and_resume_keep_the_remaining_working_days() -> None:
    # Due Mon 10/19; paused on Tue 9/29 with 10 working days left (9/30, 10/8, 10/9, 10/10, ...).
    d = decide(
        snap(State.IN_PROGRESS),
        command_for(Action.REQUEST_MATERIALS),
        CLERK_F01,
        today=TODAY,
        calendar=CAL,
        unit_kinds=UNITS,
    )
    assert d.changes["remaining_days"] == 10
    # Supplemented on Mon 11/2: ten working days from then is Mon 11/16.
    resumed = decide(
        snap(State.MATERIALS_PENDING, remaining_days=10),
        Command(Action.SUPPLEMENT),
        CLERK_F01,
        today=date(2026, 11, 2),
        calendar=CAL,
        unit_kinds=UNITS,
    )
    assert resumed.changes["due_date"] == date(2026, 11, 16)
    assert resumed.changes["remaining_days"] is None
    assert set(resumed.changes["materials_received"]) == {"id_card", "invoices", "cost_list"}


def test_complete_refused_where_unit_may_not_complete() -> None:
    s = snap(State.IN_PROGRESS, unit="V01", intake_station="V01")
    with pytest.raises(ActionNotAllowed) as err:
        decide(
            s,
            Command(Action.COMPLETE),
            ActorRef("clerk", "V01"),
            today=TODAY,
            calendar=CAL,
            unit_kinds=UNITS,
        )
    assert "forward" in err.value.detail
    assert "forward" in err.value.allowed and "complete" not in err.value.allowed


@pytest.mark.parametrize("to_unit", [None, "", "  ", "NOPE", "f01", "F01"])
def test_forward_needs_an_existing_other_unit(to_unit: str | None) -> None:
    with pytest.raises(ValidationFailed) as err:
        decide(
            snap(State.RECEIVED),
            Command(Action.FORWARD, to_unit=to_unit),
            CLERK_F01,
            today=TODAY,
            calendar=CAL,
            unit_kinds=UNITS,
        )
    assert err.value.errors[0].field == "to_unit"


def test_forward_moves_to_target_queue_and_only_target_takes() -> None:
    d = decide(
        snap(State.RECEIVED),
        Command(Action.FORWARD, to_unit="Bureau"),
        CLERK_F01,
        today=TODAY,
        calendar=CAL,
        unit_kinds=UNITS,
    )
    assert d.changes["unit"] == "BUREAU"
    fwd = snap(State.FORWARDED, unit="BUREAU")
    with pytest.raises(Forbidden):
        decide(fwd, Command(Action.TAKE), CLERK_F01, today=TODAY, calendar=CAL, unit_kinds=UNITS)
    # ... but the station where the person applied may still withdraw it.
    w = decide(
        fwd,
        Command(Action.WITHDRAW, reason="本人撤回"),
        CLERK_F01,
        today=TODAY,
        calendar=CAL,
        unit_kinds=UNITS,
    )
    assert w.to_state == State.WITHDRAWN


@pytest.mark.parametrize("reason", [None, "", "   "])
@pytest.mark.parametrize("action", [Action.REJECT, Action.WITHDRAW])
def test_reason_required(action: Action, reason: str | None) -> None:
    with pytest.raises(ValidationFailed) as err:
        decide(
            snap(State.RECEIVED),
            Command(action, reason=reason),
            CLERK_F01,
            today=TODAY,
            calendar=CAL,
            unit_kinds=UNITS,
        )
    assert err.value.errors[0].field == "reason"


@pytest.mark.parametrize("role", ["supervisor", "auditor", "admin"])
def test_read_only_roles_cannot_act(role: str) -> None:
    with pytest.raises(Forbidden):
        decide(
            snap(State.RECEIVED),
            Command(Action.START),
            ActorRef(role, None),
            today=TODAY,
            calendar=CAL,
            unit_kinds=UNITS,
        )


@given(st.lists(st.sampled_from(list(Action)), max_size=12))
def test_random_walks_only_follow_the_table(actions: list[Action]) -> None:
    state, unit, remaining = INITIAL, "F01", None
    for action in actions:
        actor = ActorRef("bureau_officer", "BUREAU") if unit == "BUREAU" else CLERK_F01
        s = snap(state, unit=unit, remaining_days=remaining)
        try:
            d = decide(s, command_for(action), actor, today=TODAY, calendar=CAL, unit_kinds=UNITS)
        except ActionNotAllowed:
            assert (state, action) not in TRANSITIONS or action == Action.COMPLETE
            continue
        except ValidationFailed:
            # An allowed action with a bad parameter (forward to its own unit) changes nothing.
            assert (state, action) in TRANSITIONS and action == Action.FORWARD
            continue
        assert TRANSITIONS[(state, action)] == d.to_state
        state = d.to_state
        unit = d.changes.get("unit", unit)
        remaining = d.changes.get("remaining_days", remaining)
        if state in TERMINAL:
            assert allowed_actions(state) == []


def test_paused_case_light_follows_its_frozen_days_only() -> None:
    from yibao.cases.rules import Light, timing

    # Paused with 0 days left, long after the old due date: due today, not overdue —
    # the same answer as the overdue filter (remaining_days < 0).
    t = timing(
        CAL,
        today=date(2026, 11, 20),
        due_date=date(2026, 10, 19),
        paused_remaining=0,
        closed_date=None,
    )
    assert t.light is Light.YELLOW
    late = timing(
        CAL,
        today=date(2026, 11, 20),
        due_date=date(2026, 10, 19),
        paused_remaining=-2,
        closed_date=None,
    )
    assert late.light is Light.RED
