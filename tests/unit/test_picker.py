"""The item picker's rules: what finds an item, and the order items are offered in."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from yibao.cases import picker
from yibao.catalog.service import catalogue_file


@dataclass(frozen=True)
class It:
    code: str
    name_zh: str
    name_en: str


HANZI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
items_st = st.builds(
    It,
    code=st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True),
    name_zh=st.text(HANZI, min_size=1, max_size=12),
    name_en=st.text(st.characters(codec="ascii", categories=["L", "Zs"]), max_size=30),
)


@given(items_st, st.data())
def test_any_part_of_the_initials_name_or_code_finds_the_item(item: It, data) -> None:  # type: ignore[no-untyped-def]
    keys = picker.search_keys(item)
    initials = "".join(lazy_pinyin(item.name_zh, style=Style.FIRST_LETTER)).lower()
    for whole in (initials, item.name_zh, item.code):
        i = data.draw(st.integers(0, len(whole) - 1))
        j = data.draw(st.integers(i + 1, len(whole)))
        assert picker.matches(whole[i:j], keys)
        assert picker.matches(f" {whole[i:j].upper()} ", keys)  # case and spaces count for nothing
    assert picker.matches("", keys)


@given(items_st)
def test_keys_never_hold_the_separator_inside_a_key(item: It) -> None:
    keys = picker.search_keys(item).split("|")
    assert (keys[0].isascii() and keys[0].isalnum()) or keys[0] == ""
    assert item.name_zh in keys


@given(
    st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=12, unique=True),
    st.data(),
)
def test_most_used_first_then_catalogue_order(codes: list[str], data) -> None:  # type: ignore[no-untyped-def]
    items = [It(c, "参保", c) for c in codes]
    uses = data.draw(st.dictionaries(st.sampled_from(codes), st.integers(0, 50)))
    ordered = picker.order(items, uses)
    assert sorted(i.code for i in ordered) == sorted(codes)  # a permutation
    counts = [uses.get(i.code, 0) for i in ordered]
    assert counts == sorted(counts, reverse=True)
    for a, b in itertools.pairwise(ordered):
        if uses.get(a.code, 0) == uses.get(b.code, 0):
            assert codes.index(a.code) < codes.index(b.code)


def test_the_shipped_catalogue_by_initials() -> None:
    catalogue = [It(s["code"], s["name_zh"], s["name_en"]) for s in catalogue_file()["services"]]
    found = {
        q: [s.code for s in catalogue if picker.matches(q, picker.search_keys(s))]
        for q in ("cbpz", "cxjm", "ydjy", "lxbx", "备案", "enrol")
    }
    assert found["cbpz"] == ["insurance_certificate"]
    assert found["cxjm"] == ["resident_enrolment"]
    assert found["ydjy"] == ["remote_care_filing"]
    assert len(found["lxbx"]) == 3  # the three 零星报销
    assert found["备案"] == ["remote_care_filing"]
    assert "resident_enrolment" in found["enrol"]
