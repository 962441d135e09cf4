"""Pure parser and writer for the yearly schedule file that an admin imports (YAML or JSON)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import yaml

from yibao.calendar.rules import FIRST_YEAR, LAST_YEAR, YearSchedule
from yibao.errors import FieldError, ValidationFailed

_KEYS = ("year", "source", "holidays", "workdays")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE_SEP = ".."


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as strings so a bad date names its field."""


# PyYAML turns 2027-02-30 into an exception for the whole document; keeping timestamps as text
# lets us report it against ``holidays[i]`` together with every other problem.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_HOLIDAY_KEYS = ("name", "days_off", "workdays")


def _line_map(text: str) -> dict[str, int]:
    """The 1-based line of every key and list item, by field path (``holidays[2].days_off``)."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{path}.{key.value}" if path else str(key.value)
                lines[name] = key.start_mark.line + 1
                walk(value, name)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                name = f"{path}[{i}]"
                lines[name] = item.start_mark.line + 1
                walk(item, name)

    if root is not None:
        walk(root, "")
    return lines


def _with_lines(errors: list[FieldError], lines: dict[str, int]) -> list[FieldError]:
    # Every error names its line: the field's own, else its nearest parent's, else line 1.
    out = []
    for e in errors:
        path = e.field
        while path and path not in lines:
            path = path.rpartition(".")[0] if "." in path else path.rpartition("[")[0]
        line = lines.get(path, 1)
        out.append(FieldError(e.field, f"line {line}: {e.message}", e.message_zh))
    return out


def _parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # only reachable through an explicit !!timestamp tag
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value.strip()!r} is not a valid date") from None


def _parse_entry(value: Any) -> tuple[date, date]:
    if isinstance(value, str) and _RANGE_SEP in value:
        head, _, tail = value.partition(_RANGE_SEP)
        start, end = _parse_date(head), _parse_date(tail)
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        return start, end
    d = _parse_date(value)
    return d, d


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _parse_dates(
    raw: Any, field: str, year: int | None, errors: list[FieldError]
) -> list[tuple[str, list[date]]]:
    """A date, a range or a list of them under ``field``; each entry with its days."""
    values = raw if isinstance(raw, list) else [raw]
    entries: list[tuple[str, list[date]]] = []
    for i, value in enumerate(values):
        name = f"{field}[{i}]" if isinstance(raw, list) else field
        try:
            start, end = _parse_entry(value)
        except ValueError as e:
            errors.append(FieldError(name, str(e)))
            continue
        if year is None:
            continue  # without a valid year the days cannot be checked further
        if start.year != year or end.year != year:
            errors.append(FieldError(name, f"{value} is not in {year}"))
            continue
        entries.append((name, _days(start, end)))
    return entries


def _parse_holiday(
    value: dict[Any, Any], field: str, year: int | None, errors: list[FieldError]
) -> tuple[list[tuple[str, list[date]]], list[tuple[str, list[date]]]]:
    """One holiday as the State Council's notice gives it: name, days off, make-up days."""
    for key in value:
        if key not in _HOLIDAY_KEYS:
            expected = ", ".join(_HOLIDAY_KEYS)
            errors.append(FieldError(f"{field}.{key}", f"unknown field (expected {expected})"))
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError(f"{field}.name", "is required: the holiday's name, e.g. 春节"))
    if value.get("days_off") in (None, []):
        errors.append(FieldError(f"{field}.days_off", "is required and must list the days off"))
        off: list[tuple[str, list[date]]] = []
    else:
        off = _parse_dates(value["days_off"], f"{field}.days_off", year, errors)
    work = value.get("workdays")
    made_up = [] if work in (None, []) else _parse_dates(work, f"{field}.workdays", year, errors)
    return off, made_up


def _parse_list(
    doc: dict[Any, Any], key: str, year: int | None, errors: list[FieldError]
) -> tuple[list[tuple[str, list[date]]], list[tuple[str, list[date]]]]:
    """The entries of ``key``; under ``holidays`` an entry may be a holiday with its own days."""
    raw = doc.get(key)
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        errors.append(FieldError(key, "must be a list of dates or ranges start..end"))
        return [], []
    entries: list[tuple[str, list[date]]] = []
    made_up: list[tuple[str, list[date]]] = []
    for i, value in enumerate(raw):
        field = f"{key}[{i}]"
        if key == "holidays" and isinstance(value, dict):
            off, work = _parse_holiday(value, field, year, errors)
            entries.extend(off)
            made_up.extend(work)
        else:
            entries.extend(_parse_dates(value, field, year, errors))
    return entries, made_up


def _parse_year(doc: dict[Any, Any], errors: list[FieldError]) -> int | None:
    if "year" not in doc:
        errors.append(FieldError("year", "is required"))
        return None
    year = doc["year"]
    if isinstance(year, bool) or not isinstance(year, int):
        errors.append(FieldError("year", f"{year!r} is not an integer"))
        return None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        errors.append(FieldError("year", f"{year} is not between {FIRST_YEAR} and {LAST_YEAR}"))
        return None
    return year


def parse_schedule(text: str) -> YearSchedule:
    """Parse a schedule file; raise ValidationFailed listing every offending field."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "line 1"
        raise ValidationFailed.single("file", f"{where}: not valid YAML") from None
    if not isinstance(doc, dict):
        raise ValidationFailed.single(
            "file", "line 1: must be a mapping with year, holidays, workdays"
        )

    errors: list[FieldError] = []
    for key in doc:
        if key not in _KEYS:
            errors.append(FieldError(str(key), f"unknown field (expected {', '.join(_KEYS)})"))
    year = _parse_year(doc, errors)
    source = doc.get("source")
    if source is None:
        source = ""
    elif not isinstance(source, str):
        errors.append(FieldError("source", "must be text"))
        source = ""
    if doc.get("holidays") in (None, []):
        errors.append(FieldError("holidays", "is required and must list the days off"))
    holidays, per_holiday = _parse_list(doc, "holidays", year, errors)
    workdays = per_holiday + _parse_list(doc, "workdays", year, errors)[0]

    off = {d for _, days in holidays for d in days}
    for field, days in workdays:
        for d in days:
            if d in off:
                errors.append(FieldError(field, f"{d} is also listed as a holiday"))
            elif d.weekday() < 5:
                errors.append(FieldError(field, f"{d} is a weekday, not a Saturday or Sunday"))

    if errors or year is None:
        raise ValidationFailed(_with_lines(errors, _line_map(text)))
    return YearSchedule(
        year=year,
        holidays=frozenset(off),
        workdays=frozenset(d for _, days in workdays for d in days),
        source=source,
    )


def _ranges(days: frozenset[date]) -> list[str]:
    out: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == timedelta(days=1):
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}{_RANGE_SEP}{ordered[j]}")
        i = j + 1
    return out


def _scalar(text: str) -> str:
    # Plain style reads best for the usual one-line notice title; anything YAML would read back
    # differently (" #", ": ", leading quotes, NEL and other line breaks) is double-quoted.
    if text and "\n" not in text:
        try:
            if yaml.load(f"v: {text}", Loader=_Loader) == {"v": text}:
                return text
        except yaml.YAMLError:
            pass
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code <= 0x7E or (0xA0 <= code <= 0xFFFD and not 0xD800 <= code <= 0xDFFF):
            out.append(ch if ch not in "\u2028\u2029\ufeff" else f"\\u{code:04x}")
        elif code > 0xFFFF:
            out.append(f"\\U{code:08x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def dump_schedule(s: YearSchedule) -> str:
    """Write ``s`` in the import format, consecutive days collapsed to ranges."""
    lines = [f"year: {s.year}", f"source: {_scalar(s.source)}"]
    for key, days in (("holidays", s.holidays), ("workdays", s.workdays)):
        ranges = _ranges(days)
        lines.append(f"{key}:" if ranges else f"{key}: []")
        lines.extend(f"  - {r}" for r in ranges)
    return "\n".join(lines) + "\n"
