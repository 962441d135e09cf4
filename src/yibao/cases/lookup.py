"""A citizen's case by its number and the last four characters of the ID number.

Kept apart from ``cases/public.py`` (the status page's content) so that slices building on a
citizen's case (the rating) can look it up without importing the page that shows them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.cases.models import Case
from yibao.errors import NotFound, RateLimited
from yibao.throttle.service import SharedRateLimiter

MAX_CASE_NO = 20
# Wrong ID tails one case number takes in a day (whoever sends them, from wherever) before it
# answers only at a station: 10 of the 10,000 tails is all a guesser gets.
WRONG_TAILS_PER_DAY = 10
DAY_SECONDS = 86400.0
PAUSED_ZH = "该办件今日在线查询已暂停（核对错误次数过多）。请携带身份证到服务站查询，或致电服务站。"

T = TypeVar("T")


class LookupPaused(RateLimited):
    """A case number took too many wrong ID tails today: it answers only at a station."""

    code = "lookup_paused"
    title = "Online lookup paused for this case"


def paused_error(wait: float) -> LookupPaused:
    """The one answer for a paused case number, whatever tail was sent and whether it exists."""
    return LookupPaused(
        "online lookup of this case is paused for today; ask at a service station or call it",
        retry_after=int(wait),
        message_zh=PAUSED_ZH,
    )


class CaseLookupBound:
    """At most ``limit`` wrong ID tails per case number per day, shared by all workers.

    Each try reserves a hit first (atomically, in the rate_counters table), so parallel guesses
    cannot slip past the count; a try whose tail matched gives its hit back. Unknown numbers
    are counted like known ones, so the pause tells nothing about which numbers exist.
    """

    def __init__(self, limiter: SharedRateLimiter) -> None:
        self.limiter = limiter

    @staticmethod
    def key(case_no: str) -> str:
        """One counter per case number as a citizen would type it."""
        return (case_no or "").strip().upper()[:MAX_CASE_NO] or "?"

    def attempt(
        self,
        case_no: str,
        check: Callable[[], T],
        wrong: Callable[[BaseException], bool] = lambda exc: isinstance(exc, NotFound),
    ) -> T:
        """Run ``check`` under the bound; ``wrong`` says which of its errors is a wrong tail
        (by default NotFound).

        Raises LookupPaused without running ``check`` once the case took its wrong tails.
        """
        key = self.key(case_no)
        wait = self.limiter.hit(key)
        if wait is not None:
            raise paused_error(wait)
        try:
            result = check()
        except BaseException as exc:
            # A wrong tail (or no such case) keeps the reserved hit; anything else gives it back.
            if not wrong(exc):
                self.limiter.refund(key)
            raise
        self.limiter.refund(key)
        return result


def bound_of(state: object) -> CaseLookupBound | None:
    """The app's bound (``app.state.case_lookup_bound``), when the app has one."""
    bound = getattr(state, "case_lookup_bound", None)
    return bound if isinstance(bound, CaseLookupBound) else None


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
