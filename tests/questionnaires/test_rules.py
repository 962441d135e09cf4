"""The pure rules of questionnaires: definitions, responses against their version, the version
lifecycle, and the results summary."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.errors import ActionNotAllowed, Forbidden, ValidationFailed
from yibao.questionnaires import rules
from yibao.questionnaires.rules import QType, VersionAction, VersionState

# ---------------------------------------------------------------- strategies

labels = st.text(
    alphabet=st.characters(whitelist_categories=("Lo", "Lu", "Ll", "Nd")), min_size=1, max_size=12
)


@st.composite
def questions(draw: st.DrawFn, qid: str) -> dict[str, Any]:
    qtype = draw(st.sampled_from(list(QType)))
    q: dict[str, Any] = {
        "id": qid,
        "type": qtype.value,
        "text": draw(labels),
        "required": draw(st.booleans()),
    }
    if qtype in (QType.SINGLE, QType.MULTIPLE):
        opts = draw(st.lists(labels, min_size=2, max_size=6, unique=True))
        q["options"] = [{"value": f"o{i}", "label": label} for i, label in enumerate(opts)]
        if qtype is QType.MULTIPLE and draw(st.booleans()):
            q["max_choices"] = draw(st.integers(1, len(opts)))
    if qtype is QType.TEXT:
        q["max_length"] = draw(st.integers(1, 50))
    return q


@st.composite
def definitions(draw: st.DrawFn) -> rules.Definition:
    n = draw(st.integers(1, 6))
    raw = {"title": draw(labels), "questions": [draw(questions(f"q{i}")) for i in range(n)]}
    return rules.parse_definition(raw)


@st.composite
def valid_answer(draw: st.DrawFn, q: rules.Question) -> Any:
    values = [o.value for o in q.options]
    if q.type is QType.SINGLE:
        return draw(st.sampled_from(values))
    if q.type is QType.MULTIPLE:
        most = q.max_choices or len(values)
        return draw(st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True))
    if q.type is QType.SCALE:
        return draw(st.sampled_from([1, 2, 3, 4, 5, "1", "5"]))
    return draw(st.text(min_size=1, max_size=q.max_length).filter(lambda s: s.strip()))


@st.composite
def valid_responses(draw: st.DrawFn) -> tuple[rules.Definition, dict[str, Any]]:
    defn = draw(definitions())
    answers: dict[str, Any] = {}
    for q in defn.questions:
        if q.required or draw(st.booleans()):
            answers[q.id] = draw(valid_answer(q))
    return defn, answers


# ---------------------------------------------------------------- responses


@settings(max_examples=100, deadline=None)
@given(valid_responses())
def test_a_valid_response_is_accepted_and_normalised(case: tuple[rules.Definition, Any]) -> None:
    defn, answers = case
    out = rules.validate_answers(defn, answers)
    assert set(out) == set(answers)
    for q in defn.questions:
        if q.id not in answers:
            continue
        given_ = answers[q.id]
        if q.type is QType.SCALE:
            assert out[q.id] == int(given_)
        elif q.type is QType.MULTIPLE:
            assert set(out[q.id]) == set(given_)
            # in the options' order, so equal answers compare equal
            assert out[q.id] == [o.value for o in q.options if o.value in given_]
        elif q.type is QType.TEXT:
            assert out[q.id] == given_.strip()
        else:
            assert out[q.id] == given_
    # normalising is idempotent
    assert rules.validate_answers(defn, out) == out


bad_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _is_valid(q: rules.Question, value: Any) -> bool:
    try:
        rules.validate_answers(rules.Definition("t", "", (q,)), {q.id: value})
    except ValidationFailed:
        return False
    return True


@settings(max_examples=120, deadline=None)
@given(valid_responses(), st.data())
def test_a_bad_answer_is_refused_naming_its_question(
    case: tuple[rules.Definition, Any], data: st.DataObject
) -> None:
    defn, answers = case
    q = data.draw(st.sampled_from(defn.questions))
    value = data.draw(bad_values)
    if _is_valid(q, value):
        return  # the drawn value happens to be an acceptable answer
    broken = {**answers, q.id: value}
    with pytest.raises(ValidationFailed) as err:
        rules.validate_answers(defn, broken)
    fields = {e.field for e in err.value.errors}
    assert fields == {f"answers.{q.id}"}
    n = defn.questions.index(q) + 1
    assert f"第{n}题" in err.value.errors[0].message_zh


@settings(max_examples=80, deadline=None)
@given(definitions())
def test_a_missing_required_answer_names_each_question(defn: rules.Definition) -> None:
    required = {f"answers.{q.id}" for q in defn.questions if q.required}
    if not required:
        assert rules.validate_answers(defn, {}) == {}
        return
    with pytest.raises(ValidationFailed) as err:
        rules.validate_answers(defn, {})
    assert {e.field for e in err.value.errors} == required


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_answers_that_are_no_mapping_are_refused(value: Any) -> None:
    defn = rules.parse_definition(
        {"title": "t", "questions": [{"id": "a", "type": "text", "text": "x"}]}
    )
    with pytest.raises(ValidationFailed) as err:
        rules.validate_answers(defn, value)
    assert err.value.errors[0].field == "answers"


def test_unknown_questions_and_too_many_choices_are_named() -> None:
    defn = rules.parse_definition(
        {
            "title": "t",
            "questions": [
                {
                    "id": "m",
                    "type": "multiple",
                    "text": "选",
                    "options": ["甲", "乙", "丙"],
                    "max_choices": 2,
                },
                {"id": "s", "type": "scale", "text": "分"},
                {"id": "w", "type": "text", "text": "话", "max_length": 5},
            ],
        }
    )
    with pytest.raises(ValidationFailed) as err:
        rules.validate_answers(defn, {"m": ["1", "2", "3"], "s": 6, "w": "六个字太长了", "zz": 1})
    by_field = {e.field: e.message_zh for e in err.value.errors}
    assert set(by_field) == {"answers.m", "answers.s", "answers.w", "answers.zz"}
    assert "最多选2项" in by_field["answers.m"]
    assert "1至5分" in by_field["answers.s"]
    assert "最多5字" in by_field["answers.w"]


# ---------------------------------------------------------------- definitions


def test_a_definition_names_every_bad_part() -> None:
    with pytest.raises(ValidationFailed) as err:
        rules.parse_definition(
            {
                "title": "",
                "questions": [
                    {"id": "Q1", "type": "single", "text": "a", "options": ["x"]},
                    {"id": "q2", "type": "essay", "text": "b"},
                    {"id": "q3", "type": "scale", "text": "c", "options": ["x", "y"]},
                    {"id": "q4", "type": "text", "text": "d", "max_length": 0},
                    {"id": "q4", "type": "text", "text": "e"},
                    "not a question",
                ],
            }
        )
    fields = {e.field for e in err.value.errors}
    assert {
        "title",
        "questions[0].id",
        "questions[0].options",
        "questions[1].type",
        "questions[2].options",
        "questions[3].max_length",
        "questions[5]",
    } <= fields


def test_repeated_ids_and_options_are_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        rules.parse_definition(
            {
                "title": "t",
                "questions": [
                    {"id": "a", "type": "single", "text": "x", "options": ["同", "同"]},
                    {"id": "b", "type": "text", "text": "y"},
                    {"id": "b", "type": "text", "text": "z"},
                ],
            }
        )
    fields = {e.field for e in err.value.errors}
    assert fields == {"questions[0].options", "questions[2].id"}


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.none())))
def test_a_definition_must_be_a_mapping(raw: Any) -> None:
    with pytest.raises(ValidationFailed):
        rules.parse_definition(raw)


@settings(max_examples=60, deadline=None)
@given(definitions())
def test_a_stored_definition_reads_back_the_same(defn: rules.Definition) -> None:
    assert rules.definition_from_stored(defn.as_dict()) == defn


def test_plain_options_get_numbered_values_and_text_is_optional_by_default() -> None:
    defn = rules.parse_definition(
        {
            "title": "t",
            "questions": [
                {"id": "a", "type": "single", "text": "x", "options": ["是", "否"]},
                {"id": "b", "type": "text", "text": "y"},
            ],
        }
    )
    assert [o.value for o in defn.questions[0].options] == ["1", "2"]
    assert defn.questions[0].required and not defn.questions[1].required
    assert rules.answer_text(defn.questions[0], "2") == "否"


# ---------------------------------------------------------------- the version lifecycle


def test_every_transition_of_the_table_and_no_other() -> None:
    for state in VersionState:
        for action in VersionAction:
            expected = rules.TRANSITIONS.get((state, action))
            if expected is None:
                with pytest.raises(ActionNotAllowed):
                    rules.decide(state, action, "supervisor")
            else:
                assert rules.decide(state, action, "bureau_officer") is expected
    # a published version never goes back to draft, a retired one never moves again
    assert rules.allowed_actions(VersionState.RETIRED) == []
    assert rules.allowed_actions(VersionState.PUBLISHED) == ["retire"]
    assert rules.allowed_actions(VersionState.DRAFT) == ["edit", "publish"]


@pytest.mark.parametrize("role", ["clerk", "station_master", "auditor", "admin"])
def test_only_managers_change_versions(role: str) -> None:
    with pytest.raises(Forbidden):
        rules.decide(VersionState.DRAFT, VersionAction.PUBLISH, role)


def test_summary_counts_shares_and_means() -> None:
    defn = rules.parse_definition(
        {
            "title": "t",
            "questions": [
                {"id": "c", "type": "multiple", "text": "x", "options": ["甲", "乙"]},
                {"id": "s", "type": "scale", "text": "y"},
            ],
        }
    )
    out = rules.summarize(
        defn,
        answered={"c": 4, "s": 3},
        choices={("c", "1"): 4, ("c", "2"): 2},
        scales={("s", 5): 2, ("s", 2): 1},
    )
    assert [(o.label, o.count, o.share) for o in out[0].options] == [("甲", 4, 1.0), ("乙", 2, 0.5)]
    assert out[1].mean == pytest.approx(4.0)
    assert [o.count for o in out[1].options] == [0, 1, 0, 0, 2]
