"""The pure rules of inspections: the checklist file, the score, the task lifecycle table."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, schedules_from_chinesecalendar
from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed
from yibao.inspections import rules, service
from yibao.inspections.rules import Answer, Area, Checked, TaskAction, TaskState

CALENDAR = WorkCalendar(schedules_from_chinesecalendar([2026]))
CL = service.checklist()
AREAS = [a.value for a in Area]

checked_items = st.lists(
    st.builds(
        Checked,
        area=st.sampled_from(AREAS),
        weight=st.integers(min_value=1, max_value=10),
        passed=st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


def test_the_shipped_checklist_has_four_areas_with_weighted_items() -> None:
    assert [a.code for a in CL.areas] == list(Area)
    assert all(a.items for a in CL.areas)
    codes = [i.code for i in CL.items]
    assert len(codes) == len(set(codes))
    assert {"premises_signage", "equipment_camera", "network_private", "staff_master"} <= set(codes)
    assert CL.deadline_days == 10


def test_a_malformed_checklist_is_refused() -> None:
    good = {
        "version": "x",
        "areas": [
            {
                "code": a,
                "name_zh": a,
                "name_en": a,
                "items": [{"code": f"{a}_1", "weight": 1, "name_zh": "甲", "name_en": "A"}],
            }
            for a in AREAS
        ],
    }
    rules.parse_checklist(good)
    missing_area = {**good, "areas": good["areas"][:3]}
    with pytest.raises(ValueError):
        rules.parse_checklist(missing_area)
    zero = {
        **good,
        "areas": [
            dict(
                good["areas"][0],
                items=[{"code": "z", "weight": 0, "name_zh": "甲", "name_en": "A"}],
            ),
            *good["areas"][1:],
        ],
    }
    with pytest.raises(ValueError):
        rules.parse_checklist(zero)


@given(checked_items)
def test_score_is_between_0_and_100_overall_and_per_area(items: list[Checked]) -> None:
    s = rules.score(items)
    assert 0 <= s.total <= 100
    assert all(0 <= v <= 100 for v in s.areas.values())
    assert set(s.areas) == {c.area for c in items}
    assert s.passed + s.failed == len(items)


@given(checked_items)
def test_all_passed_is_100_and_all_failed_is_0(items: list[Checked]) -> None:
    passed = [Checked(c.area, c.weight, True) for c in items]
    failed = [Checked(c.area, c.weight, False) for c in items]
    assert rules.score(passed).total == 100
    assert set(rules.score(passed).areas.values()) == {100}
    assert rules.score(failed).total == 0


@given(checked_items, st.data())
def test_score_never_drops_when_an_item_flips_to_passed(
    items: list[Checked], data: st.DataObject
) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(items) - 1))
    before = rules.score(items)
    flipped = list(items)
    flipped[i] = Checked(items[i].area, items[i].weight, True)
    after = rules.score(flipped)
    assert after.total >= before.total
    assert after.areas[items[i].area] >= before.areas[items[i].area]
    if not items[i].passed:
        # A real gain in weight shows unless rounding hides it: the exact share grows.
        assert after.passed == before.passed + 1


def test_score_is_the_weighted_share_rounded_half_up() -> None:
    items = [
        Checked("premises", 3, True),
        Checked("premises", 1, False),
        Checked("staff", 4, False),
    ]
    s = rules.score(items)
    assert s.total == 38  # 3 / 8 = 37.5 → 38
    assert s.areas == {"premises": 75, "staff": 0}
    assert rules.percent(2, 3) == 67 and rules.percent(1, 3) == 33


def test_answers_need_every_item_once_and_a_note_for_each_fail() -> None:
    ok = [Answer(i.code, True) for i in CL.items]
    assert rules.check_answers(CL, ok) == []
    bad = [Answer(i.code, True) for i in CL.items[1:]]
    bad += [Answer("premises_signage", False, "  "), Answer("nope", True)]
    fields = {e.field for e in rules.check_answers(CL, bad)}
    assert "results" in fields  # the first item is missing
    assert f"results[{len(bad) - 2}].note" in fields  # a fail without a note
    assert f"results[{len(bad) - 2}].item" in fields  # answered twice
    assert f"results[{len(bad) - 1}].item" in fields  # unknown


def test_inspection_date_not_in_future_nor_older_than_a_year() -> None:
    today = date(2026, 9, 29)
    assert rules.check_date(today, today) == []
    assert rules.check_date(date(2026, 9, 30), today)[0].field == "date"
    assert rules.check_date(date(2025, 9, 1), today)[0].field == "date"


def test_deadline_counts_working_days_of_the_official_calendar() -> None:
    # 9/29 (Tue) + 10 working days: 9/30, 10/8, 10/9, Sat 10/10 (worked), 10/12 … 10/19.
    due, estimated = rules.deadline(CALENDAR, date(2026, 9, 29), 10)
    assert due == date(2026, 10, 19) and not estimated
    _due, estimated = rules.deadline(CALENDAR, date(2026, 12, 28), 10)
    assert estimated  # runs into 2027, which has no official schedule here


# ---------------------------------------------------------------- the lifecycle table

MASTER = {"role": "station_master", "unit": "F01"}
OFFICER = {"role": "bureau_officer", "unit": "BUREAU"}


def _decide(state: TaskState, action: TaskAction, who: dict[str, str], note: str | None = "n"):  # type: ignore[no-untyped-def]
    return rules.decide(
        state,
        action,
        role=who["role"],
        unit=who["unit"],
        station="F01",
        note=note,
        today=date(2026, 9, 29),
        reported_date=date(2026, 9, 28),
    )


def test_every_state_is_reachable_and_verified_is_terminal() -> None:
    reached = {rules.INITIAL}
    frontier = [rules.INITIAL]
    while frontier:
        s = frontier.pop()
        for (src, _a), dst in rules.TRANSITIONS.items():
            if src is s and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    assert reached == set(TaskState)
    for terminal in rules.TERMINAL:
        assert not [a for (s, a) in rules.TRANSITIONS if s is terminal]


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("action", list(TaskAction))
def test_the_table_decides_every_pair(state: TaskState, action: TaskAction) -> None:
    who = MASTER if action is TaskAction.REPORT_FIXED else OFFICER
    target = rules.TRANSITIONS.get((state, action))
    if target is None:
        with pytest.raises(ActionNotAllowed) as exc:
            _decide(state, action, who)
        assert exc.value.allowed == [a.value for (s, a) in rules.TRANSITIONS if s is state]
    else:
        assert _decide(state, action, who).state is target


def test_who_may_act() -> None:
    with pytest.raises(Forbidden):
        _decide(TaskState.OPEN, TaskAction.REPORT_FIXED, OFFICER)
    with pytest.raises(Forbidden):  # another station's master
        _decide(TaskState.OPEN, TaskAction.REPORT_FIXED, {"role": "station_master", "unit": "F02"})
    with pytest.raises(Forbidden):
        _decide(TaskState.OPEN, TaskAction.REPORT_FIXED, {"role": "clerk", "unit": "F01"})
    with pytest.raises(Forbidden):
        _decide(TaskState.REPORTED, TaskAction.VERIFY, MASTER)
    assert _decide(TaskState.REPORTED, TaskAction.VERIFY, {"role": "supervisor", "unit": ""}).state
    assert rules.actions_for(TaskState.OPEN, role="station_master", unit="F01", station="F01") == [
        TaskAction.REPORT_FIXED
    ]
    assert rules.actions_for(TaskState.OPEN, role="clerk", unit="F01", station="F01") == []
    assert rules.actions_for(
        TaskState.REPORTED, role="bureau_officer", unit=None, station="F01"
    ) == [
        TaskAction.VERIFY,
        TaskAction.SEND_BACK,
    ]


def test_a_report_and_a_send_back_need_a_note_and_set_the_dates() -> None:
    with pytest.raises(ValidationFailed) as exc:
        _decide(TaskState.OPEN, TaskAction.REPORT_FIXED, MASTER, note=" ")
    assert exc.value.errors[0].field == "note"
    with pytest.raises(ValidationFailed):
        _decide(TaskState.REPORTED, TaskAction.SEND_BACK, OFFICER, note=None)
    reported = _decide(TaskState.OPEN, TaskAction.REPORT_FIXED, MASTER)
    assert reported.reported_date == date(2026, 9, 29)
    verified = _decide(TaskState.REPORTED, TaskAction.VERIFY, OFFICER, note=None)
    assert verified.closed_date == date(2026, 9, 29) and verified.reported_date == date(2026, 9, 28)
    back = _decide(TaskState.REPORTED, TaskAction.SEND_BACK, OFFICER)
    assert back.reported_date is None and back.closed_date is None


def test_traffic_light_of_a_task() -> None:
    deadline = date(2026, 10, 20)

    def light(today: date, state: TaskState = TaskState.OPEN, reported: date | None = None) -> str:
        return rules.task_light(
            CALENDAR, today=today, deadline_date=deadline, state=state, reported_date=reported
        ).light.value

    assert light(date(2026, 10, 19)) == "green"
    assert light(deadline) == "yellow"
    assert light(date(2026, 10, 21)) == "red"
    # Reported on time stays green however long the bureau takes to verify.
    assert light(date(2026, 11, 30), TaskState.REPORTED, date(2026, 10, 19)) == "green"
    assert light(date(2026, 11, 30), TaskState.VERIFIED, date(2026, 10, 22)) == "red"
