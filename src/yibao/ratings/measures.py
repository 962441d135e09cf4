"""Rating measures (rates) per station, clerk and item: 评价率, satisfaction, bad ratings
rectified on time, follow-up rate.

A case belongs to the station that completed it (its unit when it closed) and to the person who
completed it (the actor of its ``complete`` event: 谁办理、谁负责); it and its rating count in
the period the case closed in. Three GROUP BY queries per table: finished cases, ratings, and
the tasks of bad ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.cases.lifecycle import Action as CaseAction
from yibao.cases.lifecycle import State as CaseState
from yibao.cases.models import Case, CaseEvent
from yibao.ratings import rules
from yibao.ratings.models import Rating, RectificationTask
from yibao.runtime import Runtime

_COMPLETED = CaseState.COMPLETED.value


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
    unfounded: int = 0  # bad ratings whose appeal a supervisor upheld (不计入整改)

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
        """Bad ratings rectified by their due date / bad ratings (unfounded ones left out)."""
        due = self.bad - self.unfounded
        return self.rectified_on_time / due if due > 0 else None

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
    """Rating measures of cases completed from ``since`` to ``until`` (inclusive) in a scope.

    A case belongs to the station that completed it and to the person who completed it (谁办理、
    谁负责); its rating counts in the period the case closed in.
    """
    counts = _grouped(
        session,
        agency=agency,
        since=since,
        until=until,
        by=None,
        station=station,
        clerk_id=clerk_id,
        service_code=service_code,
    )
    return Rates(**counts.get(None, {}))


@dataclass(frozen=True)
class RateRow:
    """One row of a rates table: the key (station code, clerk id or item code) and a name."""

    key: str
    name: str
    rates: Rates


def _case_scope(
    agency: str,
    since: date,
    until: date,
    station: str | None,
    clerk_id: int | None,
    service_code: str | None,
) -> list[ColumnElement[bool]]:
    """Conditions on ``cases`` (joined with the complete event) of the finished cases."""
    out: list[ColumnElement[bool]] = [
        Case.agency == agency,
        Case.state == _COMPLETED,
        Case.closed_date >= since,
        Case.closed_date <= until,
    ]
    if station is not None:
        out.append(Case.unit == station)
    if service_code is not None:
        out.append(Case.service_code == service_code)
    if clerk_id is not None:
        out.append(CaseEvent.actor_id == clerk_id)
    return out


def _rating_scope(
    agency: str,
    since: date,
    until: date,
    station: str | None,
    clerk_id: int | None,
    service_code: str | None,
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [
        Rating.agency == agency,
        Rating.closed_date >= since,
        Rating.closed_date <= until,
    ]
    if station is not None:
        out.append(Rating.station_code == station)
    if service_code is not None:
        out.append(Rating.service_code == service_code)
    if clerk_id is not None:
        out.append(Rating.handler_id == clerk_id)
    return out


def _complete_join() -> ColumnElement[bool]:
    return and_(CaseEvent.case_id == Case.id, CaseEvent.action == CaseAction.COMPLETE.value)


def _one(x: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((x, 1), else_=0)), 0)


def _grouped(
    session: Session,
    *,
    agency: str,
    since: date,
    until: date,
    by: str | None,
    station: str | None = None,
    clerk_id: int | None = None,
    service_code: str | None = None,
) -> dict[Any, dict[str, int]]:
    """Counts behind the rates per group (``by``: station, clerk, item, or None for one row)."""
    keys: dict[str | None, tuple[list[Any], list[Any]]] = {
        None: ([], []),
        "station": ([Case.unit], [Rating.station_code]),
        "clerk": ([CaseEvent.actor_id], [Rating.handler_id]),
        "item": ([Case.service_code], [Rating.service_code]),
    }
    case_key, rating_key = keys[by]
    need_event = by == "clerk" or clerk_id is not None
    finished_q = select(*case_key, func.count()).select_from(Case)
    if need_event:
        finished_q = finished_q.join(CaseEvent, _complete_join())
    finished_q = finished_q.where(
        *_case_scope(agency, since, until, station, clerk_id, service_code)
    ).group_by(*case_key)
    scope = _rating_scope(agency, since, until, station, clerk_id, service_code)
    rated_q = (
        select(
            *rating_key,
            func.count(),
            _one(Rating.overall >= rules.SATISFIED_AT_LEAST),
            func.coalesce(func.sum(Rating.overall), 0),
            _one(Rating.overall <= rules.BAD_AT_MOST),
        )
        .where(*scope)
        .group_by(*rating_key)
    )
    T = RectificationTask
    task_q = (
        select(
            *rating_key,
            _one(and_(T.rectified_date.is_not(None), T.rectified_date <= T.due_date)),
            _one(T.follow_ups > 0),
            _one(T.outcome == "unfounded"),
        )
        .select_from(T)
        .join(Rating, Rating.id == T.rating_id)
        .where(*scope)
        .group_by(*rating_key)
    )
    n = len(case_key)
    out: dict[Any, dict[str, int]] = {}

    def slot(key: Any) -> dict[str, int]:
        return out.setdefault(key, {})

    for row in session.execute(finished_q):
        slot(row[0] if n else None)["finished"] = int(row[n])
    for row in session.execute(rated_q):
        s = slot(row[0] if n else None)
        s.update(
            rated=int(row[n]),
            satisfied=int(row[n + 1]),
            score_sum=int(row[n + 2]),
            bad=int(row[n + 3]),
        )
    for row in session.execute(task_q):
        s = slot(row[0] if n else None)
        s.update(
            rectified_on_time=int(row[n]),
            followed_up=int(row[n + 1]),
            unfounded=int(row[n + 2]),
        )
    return out


def rate_table(
    session: Session,
    *,
    runtime: Runtime,
    since: date,
    until: date,
    by: str,
    station: str | None = None,
) -> list[RateRow]:
    """Rates per station, clerk or item (``by``), optionally within one station."""
    if by not in ("station", "clerk", "item"):
        raise ValueError(by)
    agency = runtime.agency
    counts = _grouped(session, agency=agency, since=since, until=until, by=by, station=station)
    ref = runtime.reference(session)
    names: dict[Any, str] = {}
    if by == "station":
        names = dict(ref.unit_names)
    elif by == "item":
        names = {code: s.name_zh for code, s in ref.services.items()}
    else:
        ids = [k for k in counts if k is not None]
        if ids:
            names = {
                u.id: u.display_name or u.username
                for u in session.scalars(select(User).where(User.id.in_(ids)))
            }
    rows = [
        RateRow(
            key="" if key is None else str(key),
            name=names.get(key, "—" if key is None else str(key)),
            rates=Rates(**c),
        )
        for key, c in counts.items()
    ]
    rows.sort(key=lambda r: (-r.rates.finished, -r.rates.rated, r.key))
    return rows
