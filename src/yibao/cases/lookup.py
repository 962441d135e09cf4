"""A citizen's case by its number and the last four characters of the ID number.

Kept apart from ``cases/public.py`` (the status page's content) so that slices building on a
citizen's case (the rating) can look it up without importing the page that shows them.
"""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.cases.models import Case
from yibao.errors import NotFound

MAX_CASE_NO = 20


def citizen_case(session: Session, *, agency: str, case_no: str, id_tail: str) -> Case:
    """The case a citizen names by its number and the last 4 of the ID number.

    The same NotFound for an unknown case, a malformed number and a wrong tail; the tail is
    compared in constant time, with the same work whether or not the case exists.
    """
    not_found = NotFound("no case matches this number and ID tail")
    number = (case_no or "").strip()
    # Digits (or a laptop's L + digits): anything else, a NUL included, names no case.
    if not (1 <= len(number) <= MAX_CASE_NO and number.isascii() and number.isalnum()):
        raise not_found
    tail = (id_tail or "").strip().upper()
    case = session.scalar(select(Case).where(Case.agency == agency, Case.case_no == number))
    expected = case.applicant_id_tail if case is not None else "\x00\x00\x00\x00"
    if not hmac.compare_digest(expected.encode(), tail.encode()) or case is None:
        raise not_found
    return case
