"""Pure rules of a station's contact details: the phone number a citizen taps to call."""

from __future__ import annotations

import re

MAX_HOURS = 200
MAX_PHONE = 20

# A landline with its area code (023-49881234), a mobile (13812345678) or a hotline (12393),
# written with optional spaces, hyphens or a leading +: 5 to 15 digits in all.
_PHONE = re.compile(r"\+?[0-9](?:[0-9 \-]*[0-9])?")


def phone_ok(text: str) -> bool:
    """Whether ``text`` is a dialable number (digits with optional spaces, hyphens, a +)."""
    if len(text) > MAX_PHONE or not _PHONE.fullmatch(text):
        return False
    digits = sum(ch.isdigit() for ch in text)
    return 5 <= digits <= 15


def tel_href(text: str | None) -> str | None:
    """The ``tel:`` link of a stored phone number (spaces and hyphens dropped), else None."""
    if not text or not phone_ok(text):
        return None
    return "tel:" + "".join(ch for ch in text if ch.isdigit() or ch == "+")
