"""The intake page's item picker: what a clerk may type to find an item, and the order shown.

Pure: a clerk types pinyin initials (cbpz for 参保凭证), a few Chinese characters, the item
code or English words; the clerk's most used items come first, the rest in catalogue order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from pypinyin import Style, lazy_pinyin


class Item(Protocol):
    """What the picker needs of a catalogue item."""

    @property
    def code(self) -> str: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...


T = TypeVar("T", bound=Item)


def _letters(parts: Sequence[str]) -> str:
    return "".join(ch for part in parts for ch in part.lower() if ch.isascii() and ch.isalnum())


def search_keys(item: Item) -> str:
    """Everything that finds the item, lower-case, keys separated by ``|`` (for ``matches``)."""
    initials = _letters(lazy_pinyin(item.name_zh, style=Style.FIRST_LETTER))
    spelled = _letters(lazy_pinyin(item.name_zh))
    keys = (initials, spelled, item.name_zh, item.code.lower(), item.name_en.lower())
    return "|".join(k.replace("|", " ") for k in keys if k)


def normalize_query(text: str) -> str:
    """The query as matched: lower-case, without spaces."""
    return "".join(text.split()).lower()


def matches(query: str, keys: str) -> bool:
    """Whether a typed query finds an item: a part of one of its keys (empty finds all).

    Spaces count for nothing on either side. The page's script (``static/js/picker.js``)
    applies the same rule to the same keys.
    """
    q = normalize_query(query)
    return not q or any(q in "".join(key.split()) for key in keys.split("|"))


def order(items: Sequence[T], uses: Mapping[str, int]) -> list[T]:
    """Most used first (by this clerk's own intakes), ties and unused in catalogue order."""
    rank = {item.code: i for i, item in enumerate(items)}
    return sorted(items, key=lambda item: (-uses.get(item.code, 0), rank[item.code]))
