"""Free text as people type it: what no field may hold (pure; used by every slice's rules).

Control characters have no place in a name, a note or a statement, and PostgreSQL cannot
store NUL at all; refusing them at the field keeps both backends answering the same.
"""

from __future__ import annotations

import unicodedata
from typing import Any

ALLOWED_CONTROLS = frozenset("\n\r\t")


def has_control(text: str | None) -> bool:
    """Whether the text holds a control character other than line breaks and tabs."""
    return bool(text) and any(
        unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS for ch in str(text)
    )


def reject_control(value: Any) -> Any:
    """A Pydantic validator: refuse control characters in a string, or in a list's or dict's."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    for item in items:
        if isinstance(item, str) and has_control(item):
            raise ValueError("control characters are not allowed")
    return value
