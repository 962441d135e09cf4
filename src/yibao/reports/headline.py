"""The bureau overview's first screen: four numbers a supervisor asks for first.

On time (cases completed in the period by their due date), overdue (open cases past their last
working day today), bad ratings still open (rectification tasks not closed) and transfers at
risk (open transfers whose current step is due today or already late). Each is one aggregate
or, for the transfers, a handful of open rows, so the screen costs a few milliseconds whatever
the history; the tables behind it load on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.models import Case
from yibao.cases.queries import overdue_clause
from yibao.cases.service import visible
from yibao.ratings.models import RectificationTask
from yibao.ratings.rules import TaskState
from yibao.reports.measures import COMPLETED, OPEN_STATES, rate_light, sum_when
from yibao.reports.period import OverviewFilter, Period
from yibao.reports.stations import (
    active_stations,
    check_overview_filter,
    chosen_stations,
    require_agency_wide,
    towns_of,
)
from yibao.runtime import Runtime
from yibao.transfers import rules as transfer_rules
from yibao.transfers.models import Transfer


@dataclass(frozen=True)
class Headline:
    """The four figures of the overview's first screen, with what each is counted against."""

    today: date
    period: Period
    stations: int  # stations the filter covers
    completed: int  # completed in the period
    on_time: int  # of those, closed on or before the due date
    open: int  # open today
    overdue: int  # of those, overdue today
    bad_open: int  # rectification tasks of bad ratings not closed yet
    bad_late: int  # of those, not rectified by their due date
    transfers_open: int
    transfers_at_risk: int  # the step waited on is due today or late
    transfers_late: int  # of those, late

    @property
    def on_time_rate(self) -> float | None:
        """Completed on time / completed, or None when nothing was completed."""
        return self.on_time / self.completed if self.completed else None

    @property
    def rate_light(self) -> str | None:
        """Traffic light of the on-time rate."""
        return rate_light(self.on_time_rate)


@cache
def _agreements() -> transfer_rules.Agreements:
    from yibao.transfers.service import agreements

    return agreements()


def overview_headline(
    session: Session, *, runtime: Runtime, actor: Actor, filters: OverviewFilter
) -> Headline:
    """The overview's four headline figures (bureau officers and supervisors only)."""
    require_agency_wide(actor)
    every = active_stations(session, actor.agency)
    check_overview_filter(filters, towns_of(every))
    codes = [s.code for s, _ in chosen_stations(every, filters)]
    today = runtime.today()
    period = filters.period
    completed = on_time = open_ = overdue = bad_open = bad_late = 0
    if codes:
        in_period = and_(
            Case.state == COMPLETED,
            Case.closed_date >= period.date_from,
            Case.closed_date <= period.date_to,
        )
        is_open = Case.state.in_(OPEN_STATES)
        row = session.execute(
            select(
                sum_when(in_period),
                sum_when(and_(in_period, Case.closed_date <= Case.due_date)),
                sum_when(is_open),
                sum_when(and_(is_open, overdue_clause(today))),
            ).where(visible(actor), Case.intake_station.in_(codes), or_(is_open, in_period))
        ).one()
        completed, on_time, open_, overdue = (int(v or 0) for v in row)
        pending = [s.value for s in TaskState if s is not TaskState.CLOSED]
        # A task rectified after its due date still counts as late until it is closed.
        late = or_(
            and_(RectificationTask.rectified_date.is_(None), RectificationTask.due_date < today),
            RectificationTask.rectified_date > RectificationTask.due_date,
        )
        row = session.execute(
            select(func.count(), sum_when(late)).where(
                RectificationTask.agency == actor.agency,
                RectificationTask.station_code.in_(codes),
                RectificationTask.state.in_(pending),
            )
        ).one()
        bad_open, bad_late = int(row[0] or 0), int(row[1] or 0)
    transfers_open, at_risk, late_transfers = _transfers(session, runtime=runtime, actor=actor)
    return Headline(
        today=today,
        period=period,
        stations=len(codes),
        completed=completed,
        on_time=on_time,
        open=open_,
        overdue=overdue,
        bad_open=bad_open,
        bad_late=bad_late,
        transfers_open=transfers_open,
        transfers_at_risk=at_risk,
        transfers_late=late_transfers,
    )


def _transfers(session: Session, *, runtime: Runtime, actor: Actor) -> tuple[int, int, int]:
    """Open transfers of the node, those at risk, and those late (agency-wide: a transfer
    belongs to the agency, not to a station)."""
    terminal = [s.value for s in transfer_rules.TERMINAL]
    rows = session.execute(
        select(
            Transfer.state,
            Transfer.agreement,
            Transfer.applied_date,
            Transfer.letter_date,
            Transfer.remitted_date,
        ).where(
            Transfer.agency == actor.agency,
            or_(Transfer.state.is_(None), Transfer.state.not_in(terminal)),
        )
    ).all()
    if not rows:
        return 0, 0, 0
    table = _agreements()
    by_name = {a.name: a for _, a in table.bilateral}
    calendar = runtime.reference(session).calendar
    today = runtime.today()
    at_risk = late = 0
    for state, agreement, applied, letter, remitted in rows:
        deadlines = transfer_rules.deadlines(
            calendar,
            by_name.get(agreement, table.national),
            applied=applied,
            letter=letter,
            remitted=remitted,
        )
        known = {s.value for s in transfer_rules.TState}
        step = transfer_rules.TState(state) if state in known else None
        due = transfer_rules.step_due(step, deadlines)
        if due is not None and due <= today:
            at_risk += 1
            late += due < today
    return len(rows), at_risk, late
