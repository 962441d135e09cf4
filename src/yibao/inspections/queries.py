"""Reading inspections in bulk: paged lists, each station's standing, a station's measures."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.cursor import decode_cursor, encode_cursor
from yibao.errors import FieldError, ValidationFailed
from yibao.inspections import rules
from yibao.inspections.models import Inspection, InspectionTask
from yibao.inspections.rules import TaskState
from yibao.inspections.service import INSPECTED_KINDS, require_reader, station_of, visible
from yibao.ratings import service as ratings
from yibao.ratings.service import Rates
from yibao.reports import service as reports
from yibao.reports.service import Measures, Period
from yibao.runtime import Runtime
from yibao.stations.models import Station

MAX_LIMIT = 200
TASK_STATES = tuple(s.value for s in TaskState)
_OPEN = TaskState.OPEN.value
_VERIFIED = TaskState.VERIFIED.value


def _secret(runtime: Runtime) -> str:
    return runtime.settings.secret_key


# ---------------------------------------------------------------- inspections


def list_inspections(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    station: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Inspection], str | None]:
    """Inspections the actor may see, newest first, a page at a time (keyset)."""
    require_reader(actor)
    stmt = select(Inspection).where(Inspection.agency == actor.agency, visible(actor))
    if station:
        station_of(session, actor=actor, code=station)
        stmt = stmt.where(Inspection.station_code == station.upper())
    if cursor:
        day, ident = decode_cursor(cursor, "inspections", _secret(runtime))
        try:
            key = (dt.date.fromisoformat(day), uuid.UUID(ident))
        except ValueError:
            raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None
        stmt = stmt.where(
            tuple_(Inspection.inspection_date, Inspection.id) < tuple_(key[0], key[1])
        )
    rows = list(
        session.scalars(
            stmt.order_by(Inspection.inspection_date.desc(), Inspection.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(
            "inspections",
            [rows[-1].inspection_date.isoformat(), str(rows[-1].id)],
            _secret(runtime),
        )
        if more and rows
        else None
    )
    return rows, next_cursor


def history(
    session: Session, *, actor: Actor, station: str, limit: int = 50, offset: int = 0
) -> tuple[list[Inspection], int]:
    """One station's inspections, newest first, a page at a time, and how many there are."""
    code = station_of(session, actor=actor, code=station).code
    where = and_(Inspection.agency == actor.agency, Inspection.station_code == code)
    total = session.scalar(select(func.count()).select_from(Inspection).where(where)) or 0
    rows = list(
        session.scalars(
            select(Inspection)
            .where(where)
            .order_by(Inspection.inspection_date.desc(), Inspection.created_at.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, int(total)


def score_series(session: Session, *, actor: Actor, station: str) -> list[tuple[dt.date, int]]:
    """A station's scores over time, oldest first (for the chart; at most the last 100)."""
    code = station_of(session, actor=actor, code=station).code
    rows = session.execute(
        select(Inspection.inspection_date, Inspection.score)
        .where(Inspection.agency == actor.agency, Inspection.station_code == code)
        .order_by(Inspection.inspection_date.desc(), Inspection.created_at.desc())
        .limit(100)
    ).all()
    return [(d, int(s)) for d, s in reversed(rows)]


# ---------------------------------------------------------------- each station's standing


@dataclass(frozen=True)
class StationStanding:
    """A station on the bureau's list: its latest score, open items and last inspection."""

    code: str
    name: str
    kind: str
    master: str | None
    last_date: dt.date | None
    last_score: int | None
    last_id: uuid.UUID | None
    open_tasks: int  # not yet verified
    overdue: int  # open past the deadline

    @property
    def light(self) -> str | None:
        """Traffic light of the latest score."""
        return rules.score_light(self.last_score)


def standings(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    kind: str | None = None,
    limit: int = 25,
    offset: int = 0,
) -> tuple[list[StationStanding], int]:
    """Stations the actor may see with their standing, in file order, a page at a time."""
    require_reader(actor)
    if kind is not None and kind not in INSPECTED_KINDS:
        raise ValidationFailed([FieldError("kind", f"unknown kind '{kind}'", "未知的服务站类型")])
    where = and_(
        Station.agency == actor.agency,
        Station.active,
        Station.kind.in_([kind] if kind else INSPECTED_KINDS),
        visible(actor, Station.code),
    )
    total = session.scalar(select(func.count()).select_from(Station).where(where)) or 0
    stations = list(
        session.scalars(
            select(Station).where(where).order_by(Station.id).limit(limit).offset(offset)
        )
    )
    codes = [s.code for s in stations]
    latest: dict[str, Inspection] = {}
    if codes:
        newest = (
            select(Inspection.station_code, func.max(Inspection.inspection_date).label("last"))
            .where(Inspection.agency == actor.agency, Inspection.station_code.in_(codes))
            .group_by(Inspection.station_code)
            .subquery()
        )
        for row in session.scalars(
            select(Inspection)
            .join(
                newest,
                and_(
                    newest.c.station_code == Inspection.station_code,
                    newest.c.last == Inspection.inspection_date,
                ),
            )
            .where(Inspection.agency == actor.agency)
            .order_by(Inspection.created_at)
        ):
            latest[row.station_code] = row  # the last saved of that day wins
    today = runtime.today()
    counts: dict[str, tuple[int, int]] = {}
    if codes:
        for code, open_, overdue in session.execute(
            select(
                InspectionTask.station_code,
                func.count(),
                func.coalesce(
                    func.sum(
                        case(
                            (
                                and_(
                                    InspectionTask.state == _OPEN,
                                    InspectionTask.deadline_date < today,
                                ),
                                1,
                            ),
                            else_=0,
                        )
                    ),
                    0,
                ),
            )
            .where(
                InspectionTask.agency == actor.agency,
                InspectionTask.station_code.in_(codes),
                InspectionTask.state != _VERIFIED,
            )
            .group_by(InspectionTask.station_code)
        ):
            counts[code] = (int(open_), int(overdue))
    out = []
    for s in stations:
        last = latest.get(s.code)
        open_, overdue = counts.get(s.code, (0, 0))
        out.append(
            StationStanding(
                code=s.code,
                name=s.name,
                kind=s.kind,
                master=s.master,
                last_date=last.inspection_date if last else None,
                last_score=last.score if last else None,
                last_id=last.id if last else None,
                open_tasks=open_,
                overdue=overdue,
            )
        )
    return out, int(total)


# ---------------------------------------------------------------- tasks


def list_tasks(
    session: Session,
    *,
    runtime: Runtime,
    actor: Actor,
    station: str | None = None,
    state: str | None = None,
    overdue: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[InspectionTask], str | None]:
    """Rectification tasks the actor may see, nearest deadline first, a page at a time."""
    require_reader(actor)
    errors: list[FieldError] = []
    if state is not None and state not in TASK_STATES and state != "unverified":
        errors.append(FieldError("state", f"unknown state '{state}'", "未知的整改状态"))
    if errors:
        raise ValidationFailed(errors)
    stmt = select(InspectionTask).where(
        InspectionTask.agency == actor.agency, visible(actor, InspectionTask.station_code)
    )
    if station:
        stmt = stmt.where(
            InspectionTask.station_code == station_of(session, actor=actor, code=station).code
        )
    if state == "unverified":
        stmt = stmt.where(InspectionTask.state != _VERIFIED)
    elif state:
        stmt = stmt.where(InspectionTask.state == state)
    if overdue:
        stmt = stmt.where(
            InspectionTask.state == _OPEN, InspectionTask.deadline_date < runtime.today()
        )
    if cursor:
        day, ident = decode_cursor(cursor, "inspection_tasks", _secret(runtime))
        try:
            key = (dt.date.fromisoformat(day), uuid.UUID(ident))
        except ValueError:
            raise ValidationFailed.single("cursor", "invalid page cursor", "分页参数无效") from None
        stmt = stmt.where(
            or_(
                InspectionTask.deadline_date > key[0],
                and_(InspectionTask.deadline_date == key[0], InspectionTask.id > key[1]),
            )
        )
    rows = list(
        session.scalars(
            stmt.order_by(InspectionTask.deadline_date, InspectionTask.id).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(
            "inspection_tasks",
            [rows[-1].deadline_date.isoformat(), str(rows[-1].id)],
            _secret(runtime),
        )
        if more and rows
        else None
    )
    return rows, next_cursor


# ---------------------------------------------------------------- a station's measures


@dataclass(frozen=True)
class PeriodMeasures:
    """What the station page shows for one period: cases (as the dashboard counts them) and
    ratings."""

    label: str
    period: Period
    cases: Measures
    ratings: Rates


def station_measures(
    session: Session, *, runtime: Runtime, actor: Actor, station: str
) -> list[PeriodMeasures]:
    """The station's intake, on-time rate and ratings: the last 30 days, and this year."""
    code = station_of(session, actor=actor, code=station).code
    today = runtime.today()
    periods = [
        ("Last 30 days", reports.default_period(today)),
        ("This year", Period(dt.date(today.year, 1, 1), today)),
    ]
    out = []
    for label, period in periods:
        out.append(
            PeriodMeasures(
                label=label,
                period=period,
                cases=reports.station_measures(
                    session, runtime=runtime, actor=actor, station=code, period=period
                ),
                ratings=ratings.rates(
                    session,
                    agency=actor.agency,
                    since=period.date_from,
                    until=period.date_to,
                    station=code,
                ),
            )
        )
    return out
