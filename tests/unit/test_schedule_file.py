"""Tests of the schedule import file parser and writer (yibao.calendar.schedule_file)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.calendar.rules import WorkCalendar, YearSchedule, schedules_from_chinesecalendar
from yibao.calendar.schedule_file import dump_schedule, parse_schedule
from yibao.errors import ValidationFailed

D = date

EXAMPLE = """\
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知
holidays:            # days off; a single date or an inclusive range "start..end"
  - 2027-01-01
  - 2027-02-06..2027-02-13
workdays:            # make-up working days on weekends (调休上班)
  - 2027-02-20
"""


def _fields(text: str) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        parse_schedule(text)
    return {e.field: e.message for e in info.value.errors}


def _bundled_2026() -> str:
    return (files("yibao.calendar") / "data" / "cn-2026.yaml").read_text(encoding="utf-8")


def test_parses_the_documented_example() -> None:
    s = parse_schedule(EXAMPLE)
    assert s.year == 2027
    assert s.source == "国务院办公厅关于2027年部分节假日安排的通知"
    assert s.holidays == {D(2027, 1, 1)} | {D(2027, 2, d) for d in range(6, 14)}
    assert s.workdays == {D(2027, 2, 20)}


def test_json_is_accepted() -> None:
    doc = {"year": 2027, "holidays": ["2027-01-01", "2027-02-06..2027-02-13"], "workdays": []}
    s = parse_schedule(json.dumps(doc))
    assert s == YearSchedule(2027, parse_schedule(EXAMPLE).holidays, frozenset())


def test_bundled_2026_file_agrees_with_chinesecalendar() -> None:
    from_file = parse_schedule(_bundled_2026())
    [from_package] = schedules_from_chinesecalendar([2026])
    assert from_file.workdays == from_package.workdays
    # the file lists whole holiday ranges; the package only the weekdays among them
    assert {d for d in from_file.holidays if d.weekday() < 5} == from_package.holidays
    a, b = WorkCalendar([from_file]), WorkCalendar([from_package])
    year = [D(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert [a.is_working_day(d) for d in year] == [b.is_working_day(d) for d in year]
    assert sum(a.is_working_day(d) for d in year) == 248


def test_weekend_holidays_are_accepted() -> None:
    s = parse_schedule("year: 2027\nholidays: [2027-01-02]\n")  # a Saturday
    assert s.holidays == {D(2027, 1, 2)}
    assert WorkCalendar([s]).working_days_between(D(2027, 1, 1), D(2027, 1, 8)).days == 5


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("year: [2027\n", "file", "line 2, column 1: not valid YAML"),
        ("- 2027-01-01\n", "file", "mapping"),
        ("just text", "file", "mapping"),
        ("", "file", "mapping"),
        ("holidays: [2027-01-01]\n", "year", "required"),
        ("year: '2027'\nholidays: [2027-01-01]\n", "year", "integer"),
        ("year: 2027.5\nholidays: [2027-01-01]\n", "year", "integer"),
        ("year: true\nholidays: [2027-01-01]\n", "year", "integer"),
        ("year: 1899\nholidays: [1899-01-01]\n", "year", "between"),
        ("year: 2201\nholidays: [2201-01-01]\n", "year", "between"),
        ("year: 2027\n", "holidays", "required"),
        ("year: 2027\nholidays: []\n", "holidays", "required"),
        ("year: 2027\nholidays: 2027-01-01\n", "holidays", "list"),
        ("year: 2027\nholidays: [2027-01-01]\nworkdays: 2027-02-20\n", "workdays", "list"),
        ("year: 2027\nholidays: [2027-01-01, 2027-02-30]\n", "holidays[1]", "valid date"),
        ("year: 2027\nholidays: [2027-01-01, 2027-1-2]\n", "holidays[1]", "YYYY-MM-DD"),
        ("year: 2027\nholidays: [2027-01-01, 20270102]\n", "holidays[1]", "YYYY-MM-DD"),
        ("year: 2027\nholidays: [2027-01-01, 2027-01-01 10:00]\n", "holidays[1]", "YYYY"),
        ("year: 2027\nholidays: [2027-01-01, 2027-02-13..2027-02-06]\n", "holidays[1]", "before"),
        ("year: 2027\nholidays: [2027-01-01, 2027-02-13..x]\n", "holidays[1]", "not a date"),
        ("year: 2027\nholidays: [2027-01-01, 2026-12-31]\n", "holidays[1]", "not in 2027"),
        ("year: 2027\nholidays: [2027-01-01, 2027-12-30..2028-01-02]\n", "holidays[1]", "2027"),
        ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2028-01-01]\n", "workdays[0]", "2027"),
        ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-02-22]\n", "workdays[0]", "weekday"),
        (
            "year: 2027\nholidays: [2027-02-06..2027-02-13]\nworkdays: [2027-02-20, 2027-02-13]\n",
            "workdays[1]",
            "holiday",
        ),
        ("year: 2027\nholidays: [2027-01-01]\nsource: [a]\n", "source", "text"),
        ("year: 2027\nholiday: [2027-01-01]\n", "holiday", "unknown"),
    ],
)
def test_errors_name_the_field(text: str, field: str, fragment: str) -> None:
    errors = _fields(text)
    assert field in errors, errors
    assert fragment in errors[field]


def test_all_errors_are_collected() -> None:
    text = (
        "year: 2027\n"
        "holidays: [2027-01-01, 2027-02-30, 2026-05-01, 2027-03-05..2027-03-01]\n"
        "workdays: [2027-01-01, 2027-02-22, 2027-02-20, bad]\n"
        "extra: 1\n"
    )
    assert set(_fields(text)) == {
        "holidays[1]",
        "holidays[2]",
        "holidays[3]",
        "workdays[0]",
        "workdays[1]",
        "workdays[3]",
        "extra",
    }


def test_dates_are_checked_even_when_the_year_is_bad() -> None:
    assert set(_fields("year: x\nholidays: [2027-02-30]\nworkdays: [y]\n")) == {
        "year",
        "holidays[0]",
        "workdays[0]",
    }


def test_dump_collapses_ranges() -> None:
    text = dump_schedule(parse_schedule(EXAMPLE))
    assert "2027-02-06..2027-02-13" in text
    assert "- 2027-01-01\n" in text
    assert parse_schedule(text) == parse_schedule(EXAMPLE)


def test_dump_of_bundled_file_round_trips() -> None:
    s = parse_schedule(_bundled_2026())
    text = dump_schedule(s)
    assert text.count("..") == 7
    assert parse_schedule(text) == s


@st.composite
def schedules(draw: st.DrawFn) -> YearSchedule:
    year = draw(st.integers(min_value=1900, max_value=2200))
    first = D(year, 1, 1)
    days_in_year = (D(year + 1, 1, 1) - first).days if year < 2200 else 365
    day = st.integers(min_value=0, max_value=days_in_year - 1).map(
        lambda i: first + timedelta(days=i)
    )
    holidays = draw(st.frozensets(day, min_size=1, max_size=60))
    weekend = day.filter(lambda d: d.weekday() >= 5 and d not in holidays)
    workdays = draw(st.frozensets(weekend, max_size=10))
    source = draw(
        st.text(max_size=40) | st.sampled_from(["", " a", "a # b", "a: b", "'x", "国务院"])
    )
    return YearSchedule(year, holidays, workdays, source)


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_dump_parse_round_trip(s: YearSchedule) -> None:
    text = dump_schedule(s)
    assert parse_schedule(text) == s
    assert dump_schedule(parse_schedule(text)) == text


def test_windows_notepad_file_with_bom_and_crlf_is_accepted() -> None:
    text = "\ufeff" + EXAMPLE.replace("\n", "\r\n")
    assert parse_schedule(text) == parse_schedule(EXAMPLE)


NOTICE_STYLE = """\
year: 2027
source: 示例
holidays:
  - name: 元旦
    days_off: 2027-01-01..2027-01-03
  - name: 春节
    days_off: [2027-02-05..2027-02-13]
    workdays: [2027-01-31, 2027-02-20]
  - 2027-10-01..2027-10-07
workdays:
  - 2027-10-09
"""


def test_parses_holidays_as_the_notice_lists_them() -> None:
    s = parse_schedule(NOTICE_STYLE)
    assert D(2027, 1, 2) in s.holidays and D(2027, 2, 13) in s.holidays
    assert s.workdays == {D(2027, 1, 31), D(2027, 2, 20), D(2027, 10, 9)}
    assert parse_schedule(dump_schedule(s)) == s


def test_the_2027_example_in_the_docs_parses() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    s = parse_schedule((root / "docs/examples/cn-2027-example.yaml").read_text("utf-8"))
    assert s.year == 2027 and D(2027, 2, 5) in s.holidays


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        (
            NOTICE_STYLE.replace("days_off: 2027-01-01..", "days_off: 2027-01-41.."),
            "holidays[0].days_off",
            5,
        ),
        (
            NOTICE_STYLE.replace("    workdays: [2027-01-31", "    workdays: [2027-02-01"),
            "holidays[1].workdays[0]",
            8,
        ),
        (NOTICE_STYLE.replace("  - name: 元旦\n", "  - nam: 元旦\n"), "holidays[0].nam", 4),
        (NOTICE_STYLE.replace("  - 2027-10-01..", "  - 2028-10-01.."), "holidays[2]", 9),
        (NOTICE_STYLE.replace("  - 2027-10-09", "  - 2027-10-11"), "workdays[0]", 11),
        ("year: 2027\n", "holidays", 1),
    ],
)
def test_every_error_names_its_line(text: str, field: str, line: int) -> None:
    errors = _fields(text)
    assert field in errors, errors
    assert errors[field].startswith(f"line {line}: "), errors


@given(st.text(max_size=300))
def test_any_text_raises_only_validation_failed_with_lines(text: str) -> None:
    try:
        parse_schedule(text)
    except ValidationFailed as e:
        assert all(err.message.startswith("line ") for err in e.errors)
