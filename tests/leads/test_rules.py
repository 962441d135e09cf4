"""The lead lifecycle table walked whole, random action sequences, and exact money parsing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed
from yibao.leads import rules
from yibao.leads.rules import TERMINAL, TRANSITIONS, Action, Command, LeadState

TODAY = date(2026, 9, 29)
GOOD = {
    Action.VERIFY: Command(Action.VERIFY, note="核查"),
    Action.INTERVENE: Command(Action.INTERVENE, note="干预", actions_taken="暂停结算"),
    Action.CONFIRM: Command(Action.CONFIRM, note="查实", amount_recovered="100.05"),
    Action.DISMISS: Command(Action.DISMISS, note="不属实"),
}


def test_every_state_is_reachable_and_terminal_states_have_no_exit() -> None:
    reached = {rules.INITIAL}
    frontier = [rules.INITIAL]
    while frontier:
        s = frontier.pop()
        for a in rules.allowed_actions(s):
            nxt = TRANSITIONS[(s, a)]
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(LeadState)
    for s in TERMINAL:
        assert rules.allowed_actions(s) == []
    # The paths: raised → verifying → intervening → confirmed | unfounded; verifying → unfounded.
    assert TRANSITIONS[(LeadState.VERIFYING, Action.DISMISS)] is LeadState.UNFOUNDED
    assert (LeadState.VERIFYING, Action.CONFIRM) not in TRANSITIONS


@pytest.mark.parametrize("state", list(LeadState))
@pytest.mark.parametrize("action", list(Action))
def test_decide_follows_the_table_exactly(state: LeadState, action: Action) -> None:
    target = TRANSITIONS.get((state, action))
    if target is None:
        with pytest.raises(ActionNotAllowed) as exc:
            rules.decide(state, GOOD[action], role="supervisor", today=TODAY)
        assert exc.value.allowed == [a.value for a in rules.allowed_actions(state)]
        return
    d = rules.decide(state, GOOD[action], role="supervisor", today=TODAY)
    assert d.to_state is target and d.note
    assert ("closed_date" in d.changes) == (target in TERMINAL)
    for role in ("clerk", "station_master", "bureau_officer", "auditor", "admin"):
        with pytest.raises(Forbidden):
            rules.decide(state, GOOD[action], role=role, today=TODAY)
    with pytest.raises(ValidationFailed) as bad:
        rules.decide(state, Command(action, note="  "), role="supervisor", today=TODAY)
    assert "note" in {e.field for e in bad.value.errors}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(Action)), max_size=12))
def test_random_action_sequences_stay_on_the_table(actions: list[Action]) -> None:
    state = rules.INITIAL
    for action in actions:
        target = TRANSITIONS.get((state, action))
        try:
            d = rules.decide(state, GOOD[action], role="supervisor", today=TODAY)
        except ActionNotAllowed:
            assert target is None
            continue
        assert d.from_state is state and d.to_state is target
        if target is LeadState.CONFIRMED:
            assert d.changes["amount_recovered_fen"] == 10005
        state = d.to_state
    assert state in set(LeadState)


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("0", 0),
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996 in floating point
        ("1.1", 110),
        ("1,234.56", 123456),
        ("¥80", 8000),
        ("￥ 12.5 元", 1250),
        ("１２３.４５", 12345),  # full-width digits
        ("1000000", 100000000),
    ],
)
def test_amounts_parse_exactly(typed: str, fen: int) -> None:
    assert rules.parse_yuan(typed) == fen


@pytest.mark.parametrize(
    "typed", ["", "  ", "abc", "-5", "1.234", "1e3", "1,23", ".5", "12.", "NaN", "99999999999999"]
)
def test_bad_amounts_name_the_field(typed: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        rules.parse_yuan(typed, field="amount_recovered")
    assert exc.value.errors[0].field == "amount_recovered"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=rules.MAX_FEN - 1))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    assert rules.parse_yuan(rules.format_fen(fen)) == fen
    whole, cents = divmod(fen, 100)
    assert rules.parse_yuan(f"{whole}.{cents:02d}") == fen


def test_who_sees_and_raises() -> None:
    author = 7
    assert rules.can_see("supervisor", 1, author)
    assert rules.can_see("clerk", author, author)
    for role in ("clerk", "station_master", "bureau_officer", "auditor", "admin"):
        assert not rules.can_see(role, 8, author)
    assert rules.may_raise("clerk", "fixed") and rules.may_raise("station_master", "fixed")
    assert not rules.may_raise("clerk", "mobile") and not rules.may_raise("supervisor", "fixed")
    assert not rules.may_add("clerk", author, author, LeadState.CONFIRMED)
    assert rules.hospital_of("永川区人民医院医保服务站") == "永川区人民医院"
