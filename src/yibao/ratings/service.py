"""Use cases of ratings (好差评). The ratings slice fills this module in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Rates:
    """Rating measures of one scope (agency, station, clerk or item) over a period."""

    finished: int = 0  # cases completed in the period: the ones that may be rated
    rated: int = 0
    satisfied: int = 0  # rated 4 (满意) or 5 (非常满意)
    score_sum: int = 0
    bad: int = 0  # rated 2 or 1: each opened a rectification
    rectified_on_time: int = 0
    followed_up: int = 0

    @property
    def participation(self) -> float | None:
        """评价率: rated / finished."""
        return self.rated / self.finished if self.finished else None

    @property
    def satisfaction(self) -> float | None:
        """Share of ratings that are 4 or 5."""
        return self.satisfied / self.rated if self.rated else None

    @property
    def mean_score(self) -> float | None:
        """The mean level, 1–5."""
        return self.score_sum / self.rated if self.rated else None

    @property
    def rectified_on_time_rate(self) -> float | None:
        """Bad ratings rectified by their due date / bad ratings."""
        return self.rectified_on_time / self.bad if self.bad else None

    @property
    def follow_up_rate(self) -> float | None:
        """Bad ratings with a follow-up (回访) recorded / bad ratings."""
        return self.followed_up / self.bad if self.bad else None


def rates(
    session: Session,
    *,
    agency: str,
    since: date,
    until: date,
    station: str | None = None,
    clerk_id: int | None = None,
    service_code: str | None = None,
) -> Rates:
    """Rating measures of cases completed from ``since`` to ``until`` (inclusive) in a scope."""
    return Rates()
