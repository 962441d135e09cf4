"""Property tests of the 备案 rules over dates and kinds (pure: no database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.errors import ActionNotAllowed, ValidationFailed
from yibao.filings import divisions, rules
from yibao.filings.rules import Action, Basis, Held, Kind, Request, Snapshot, State

TABLE = divisions.load().by_province
HOME = rules.home_prefix("500118")
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
KINDS = st.sampled_from(list(Kind))
BASES = st.sampled_from(list(Basis))
OFFSETS = st.integers(min_value=-400, max_value=400)


def request(kind: Kind, basis: Basis, **over: object) -> Request:
    fields: dict[str, object] = {
        "kind": kind.value,
        "basis": basis.value,
        "province": "510000",
        "city": "510100",
        "documents": ("转诊单",),
    }
    fields.update(over)
    return Request(**fields)  # type: ignore[arg-type]


def check(req: Request, today: date, held: tuple[Held, ...] = ()) -> rules.Terms:
    return rules.check_terms(req, today=today, divisions=TABLE, home=HOME, held=held)


def failing(req: Request, today: date, held: tuple[Held, ...] = ()) -> set[str]:
    with pytest.raises(ValidationFailed) as info:
        check(req, today, held)
    return {e.field for e in info.value.errors}


@given(DAYS, st.integers(min_value=-1000, max_value=1000))
def test_add_months_clamps_and_is_monotonic(day: date, months: int) -> None:
    later = rules.add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day <= day.day
    assert rules.add_months(day, months + 1) > later


@given(DAYS, KINDS, BASES)
def test_defaults_long_term_open_temporary_six_months(
    today: date, kind: Kind, basis: Basis
) -> None:
    terms = check(request(kind, basis), today)
    assert terms.start_date == today
    if kind in rules.LONG_TERM:
        assert terms.end_date is None
    else:
        assert terms.end_date == rules.minimum_end(today)
        # At least 6 months of validity, the start day included, and not a day more.
        assert terms.end_date + timedelta(days=1) == rules.add_months(today, 6)


@given(DAYS, st.sampled_from(sorted(rules.TEMPORARY)), st.integers(min_value=-200, max_value=800))
def test_temporary_end_at_least_six_months(today: date, kind: Kind, extra: int) -> None:
    end = rules.minimum_end(today) + timedelta(days=extra)
    req = request(kind, Basis.PROOF, end_date=end)
    if extra < 0 or end > rules.add_months(today, rules.MAX_TEMPORARY_MONTHS):
        assert failing(req, today) == {"end_date"}
    else:
        assert check(req, today).end_date == end


@given(DAYS, st.sampled_from(sorted(rules.LONG_TERM)), DAYS)
def test_long_term_never_takes_an_end(today: date, kind: Kind, end: date) -> None:
    assert failing(request(kind, Basis.PROOF, end_date=end), today) == {"end_date"}


@given(DAYS, KINDS, OFFSETS, st.one_of(st.none(), OFFSETS), st.booleans())
@settings(max_examples=300)
def test_start_date_rules(
    today: date, kind: Kind, start_off: int, admit_off: int | None, settled: bool
) -> None:
    start = today + timedelta(days=start_off)
    admission = None if admit_off is None else today + timedelta(days=admit_off)
    req = request(kind, Basis.PROOF, start_date=start, admission_date=admission, settled=settled)
    expected: set[str] = set()
    if admission is not None and (admission > today or admission < today - timedelta(366)):
        expected.add("admission_date")
    if kind is Kind.EMERGENCY:
        # Recorded after the fact: never ahead of today, settled or not.
        if start > today or start < today - timedelta(366):
            expected.add("start_date")
    else:
        if settled:
            expected.add("settled")
        if start < today and (admission is None or start < admission):
            expected.add("start_date")
        if start > today + timedelta(days=rules.MAX_AHEAD_DAYS):
            expected.add("start_date")
    if expected:
        assert expected <= failing(req, today)
        assert failing(req, today) <= expected | {"end_date"}
    else:
        terms = check(req, today)
        assert terms.start_date == start
        assert terms.after_the_fact == (start < today)


@given(DAYS, KINDS, st.sampled_from(list(State)), OFFSETS, st.one_of(st.none(), OFFSETS))
def test_one_commitment_in_force_at_a_time(
    today: date, kind: Kind, state: State, start_off: int, end_off: int | None
) -> None:
    other = Held(
        filing_no="BA1",
        basis=Basis.COMMITMENT,
        state=state,
        start_date=today + timedelta(days=start_off),
        end_date=None if end_off is None else today + timedelta(days=end_off),
    )
    req = request(kind, Basis.COMMITMENT, documents=())
    holds = state is State.ACTIVE and (other.end_date is None or other.end_date >= today)
    if holds:
        assert failing(req, today, (other,)) == {"basis"}
        # The record a change replaces does not count against its own new terms.
        rules.check_terms(
            req, today=today, divisions=TABLE, home=HOME, held=(other,), replacing="BA1"
        )
    else:
        check(req, today, (other,))
    # Proof is never limited by a commitment held elsewhere.
    check(request(kind, Basis.PROOF), today, (other,))


@given(DAYS, BASES, st.sampled_from(list(State)), OFFSETS, st.one_of(st.none(), OFFSETS))
@settings(max_examples=300)
def test_change_and_cancel_lifecycle(
    today: date, basis: Basis, state: State, start_off: int, end_off: int | None
) -> None:
    start = today + timedelta(days=start_off)
    end = None if end_off is None else today + timedelta(days=end_off)
    snap = Snapshot("BA1", state, basis, start, end)
    for action in (Action.CHANGE, Action.CANCEL):
        if state is not State.ACTIVE:
            with pytest.raises(ActionNotAllowed):
                rules.decide(snap, action, today=today)
            continue
        locked = basis is Basis.COMMITMENT and today < rules.add_months(start, 6)
        ended = end is not None and end < today
        if ended or locked:
            with pytest.raises(ValidationFailed) as info:
                rules.decide(snap, action, today=today)
            assert info.value.errors[0].field == ("filing" if ended else "basis")
        else:
            target = rules.decide(snap, action, today=today)
            assert target is (State.CHANGED if action is Action.CHANGE else State.CANCELLED)
    # Expiry: exactly the active records past their end.
    if state is State.ACTIVE and end is not None and end < today:
        assert rules.decide(snap, Action.EXPIRE, today=today) is State.EXPIRED
    else:
        with pytest.raises(ActionNotAllowed):
            rules.decide(snap, Action.EXPIRE, today=today)


def test_the_lifecycle_table() -> None:
    # Every state is reachable from active; the others are terminal (no exits).
    reached = {State.ACTIVE} | set(rules.TRANSITIONS.values())
    assert reached == set(State)
    for state in rules.TERMINAL:
        assert rules.allowed_actions(state) == []
    assert set(rules.BORN.values()) <= set(State)
    assert rules.BORN[Action.CANCEL] is State.CANCELLED


@given(st.sampled_from([(p, c) for p, cities in TABLE.items() for c in cities]))
def test_destinations_belong_to_their_province(pair: tuple[str, str]) -> None:
    province, city = pair
    req = request(Kind.REFERRAL, Basis.PROOF, province=province, city=city)
    today = date(2026, 9, 29)
    if city.startswith("50"):
        assert failing(req, today) == {"city"}  # Chongqing pools as one region
    else:
        assert check(req, today).city == city
    others = [c for p, cs in TABLE.items() if p != province for c in cs]
    wrong = request(Kind.REFERRAL, Basis.PROOF, province=province, city=others[0])
    assert failing(wrong, today) == {"city"}


def test_home_region() -> None:
    assert rules.home_prefix("500118") == "50"
    assert rules.home_prefix("510500") == "5105"
