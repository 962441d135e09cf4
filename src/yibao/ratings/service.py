"""Use cases of ratings (好差评): rate a finished case once (一事一评), read ratings.

A citizen rates on the phone page (case number + ID tail, no login) or at the window on a pad
the clerk hands over; staff may also record a pad rating through the API. A bad rating (overall
2 or 1) opens a rectification task in the same transaction (see ``tasks``). Who may see a case
may see its rating. Every change commits once with an audit record. The rates shown on the
dashboards are in ``measures`` (re-exported here: ``Rates``, ``rates``).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.cases.lifecycle import Action as CaseAction
from yibao.cases.lifecycle import State as CaseState
from yibao.cases.lookup import citizen_case
from yibao.cases.models import Case, CaseEvent
from yibao.cases.service import get_case, require_case_role
from yibao.db import UnitOfWork
from yibao.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yibao.ratings import rules
from yibao.ratings.measures import RateRow, Rates, rate_table, rates
from yibao.ratings.models import Rating, RectificationTask
from yibao.ratings.rules import Channel, Scores
from yibao.ratings.tasks import open_task
from yibao.runtime import Runtime

__all__ = ["RateRow", "Rates", "rate_table", "rates"]

RATING_ROLES = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER)  # hand over the pad
FORM_TOKEN_TTL = timedelta(hours=12)
_COMPLETED = CaseState.COMPLETED.value


# ---------------------------------------------------------------- input


class StaffRatingIn(BaseModel):
    """A rating recorded by staff at the window (the pad's answers)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_no: str = Field(max_length=20)
    overall: int = Field(ge=1, le=5)
    efficiency: int = Field(ge=1, le=5)
    service_level: int = Field(ge=1, le=5)
    attitude: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=rules.COMMENT_MAX)


# ---------------------------------------------------------------- the signed form token


def form_token(secret: str, *, case_no: str, id_tail: str, now: datetime) -> str:
    """A token for the citizen's rating form, bound to the case and the tail that opened it."""
    issued = str(int(now.timestamp()))
    return f"{issued}.{_sign(secret, case_no, id_tail.upper(), issued)}"


def check_form_token(secret: str, *, case_no: str, id_tail: str, token: str, now: datetime) -> bool:
    """Whether the form token is ours, for this case and tail, and fresh."""
    issued, _sep, sig = (token or "").partition(".")
    if not issued.isdigit() or len(issued) > 12 or not sig:
        return False
    expected = _sign(secret, case_no, (id_tail or "").strip().upper(), issued)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        return False
    age = now.timestamp() - int(issued)
    return -300 <= age <= FORM_TOKEN_TTL.total_seconds()


def _sign(secret: str, case_no: str, tail: str, issued: str) -> str:
    msg = f"rating-form:{case_no}:{tail}:{issued}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


# ---------------------------------------------------------------- rating


def _handler(session: Session, case: Case) -> tuple[int | None, str]:
    """Who completed the case: the actor of its ``complete`` event."""
    row = session.execute(
        select(CaseEvent.actor_id, CaseEvent.actor_name)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == CaseAction.COMPLETE.value)
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, "")


def _rate(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    case: Case,
    scores: Scores,
    channel: Channel,
    actor: Actor | None,
    ip: str | None,
) -> Rating:
    session = uow.session
    if case.state != _COMPLETED or case.closed_date is None:
        raise ValidationFailed.single(
            "case", "only a completed case can be rated", "办件办结后才能评价"
        )
    if session.scalar(
        select(func.count()).where(Rating.agency == case.agency, Rating.case_id == case.id)
    ):
        raise Conflict("this case has already been rated (一事一评)", case_no=case.case_no)
    now = runtime.now()
    today = runtime.today()
    handler_id, handler_name = _handler(session, case)
    rating = Rating(
        id=uuid.uuid4(),
        agency=case.agency,
        case_id=case.id,
        case_no=case.case_no,
        service_code=case.service_code,
        station_code=case.unit,
        handler_id=handler_id,
        handler_name=handler_name,
        closed_date=case.closed_date,
        channel=channel.value,
        overall=scores.overall,
        efficiency=scores.efficiency,
        service_level=scores.service_level,
        attitude=scores.attitude,
        comment=scores.comment,
        rated_at=now,
        rated_date=today,
        recorded_by=actor.id if actor else None,
    )
    try:
        _persist(uow, runtime=runtime, case=case, rating=rating, scores=scores, actor=actor, ip=ip)
    except IntegrityError:
        uow.rollback()
        raise Conflict(
            "this case has already been rated (一事一评)", case_no=case.case_no
        ) from None
    return rating


def _persist(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    case: Case,
    rating: Rating,
    scores: Scores,
    actor: Actor | None,
    ip: str | None,
) -> None:
    session = uow.session
    now = rating.rated_at
    channel = Channel(rating.channel)
    session.add(rating)
    session.flush()  # before the task that refers to it (no ORM relationships order inserts)
    who_id, who_name = (actor.id, actor.username) if actor else (None, "citizen")
    audit.record(
        session,
        agency=case.agency,
        actor_id=who_id,
        actor_name=who_name,
        action="rating.rate",
        object_type="case",
        object_id=case.case_no,
        ip=ip,
        detail={"channel": channel.value, "overall": scores.overall, "bad": scores.bad},
    )
    if scores.bad:
        open_task(session, runtime=runtime, case=case, rating=rating, now=now, ip=ip)
    uow.commit()


def rate_public(
    uow: UnitOfWork,
    *,
    runtime: Runtime,
    case_no: str,
    id_tail: str,
    raw: dict[str, Any],
    ip: str | None,
) -> Rating:
    """A citizen's rating from the phone page (no login: case number + ID tail)."""
    case = citizen_case(uow.session, agency=runtime.agency, case_no=case_no, id_tail=id_tail)
    scores = rules.check_scores(raw)
    return _rate(
        uow, runtime=runtime, case=case, scores=scores, channel=Channel.PHONE, actor=None, ip=ip
    )


def rate_at_window(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, case_no: str, raw: dict[str, Any]
) -> Rating:
    """A rating given on the window's pad, recorded under the clerk who handed it over."""
    require_case_role(actor)
    if actor.role not in RATING_ROLES:
        raise Forbidden("only station staff and bureau officers record a rating at the window")
    if not rules.case_no_ok(case_no):
        raise NotFound(f"case {case_no[:20]} not found")
    case = get_case(uow.session, actor=actor, case_no=case_no)
    scores = rules.check_scores(raw)
    return _rate(
        uow,
        runtime=runtime,
        case=case,
        scores=scores,
        channel=Channel.PAD,
        actor=actor,
        ip=actor.ip,
    )


def rating_for_case(session: Session, *, case: Case) -> Rating | None:
    """The rating of a case (the caller has checked that the case may be seen)."""
    return session.scalar(
        select(Rating).where(Rating.agency == case.agency, Rating.case_id == case.id)
    )


def task_for_rating(session: Session, *, rating: Rating) -> RectificationTask | None:
    """The rectification task a bad rating opened."""
    return session.scalar(
        select(RectificationTask).where(
            RectificationTask.agency == rating.agency, RectificationTask.rating_id == rating.id
        )
    )


def get_rating(session: Session, *, actor: Actor, case_no: str) -> Rating:
    """The rating of a case the actor may see (404 when unrated or out of sight)."""
    if not rules.case_no_ok(case_no):
        raise NotFound(f"case {case_no[:20]} not found")
    case = get_case(session, actor=actor, case_no=case_no)
    rating = rating_for_case(session, case=case)
    if rating is None:
        raise NotFound(f"case {case_no} has no rating")
    return rating


def public_rating(session: Session, *, runtime: Runtime, case: Case) -> dict[str, Any]:
    """What the phone page shows: the rating given, or whether the form may be offered."""
    rating = rating_for_case(session, case=case)
    return {
        "can_rate": rating is None and case.state == _COMPLETED,
        "given": None if rating is None else rating_dict(rating, public=True),
    }


def rating_dict(rating: Rating, *, public: bool = False) -> dict[str, Any]:
    """A rating as the API and the pages show it (the citizen sees no staff names)."""
    out: dict[str, Any] = {
        "case_no": rating.case_no,
        "channel": rating.channel,
        "channel_label": rules.CHANNEL_LABELS[Channel(rating.channel)][0],
        "overall": rating.overall,
        "overall_label": rules.LEVELS[rating.overall][0],
        "efficiency": rating.efficiency,
        "service_level": rating.service_level,
        "attitude": rating.attitude,
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
        "bad": rules.is_bad(rating.overall),
    }
    if not public:
        out.update(
            service_code=rating.service_code,
            station_code=rating.station_code,
            handler_id=rating.handler_id,
            handler_name=rating.handler_name,
            closed_date=rating.closed_date.isoformat(),
        )
    return out
