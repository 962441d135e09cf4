"""A station master's dashboard: today's numbers, clerks, items and the recent trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial

from sqlalchemy import and_
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.cases.models import Case, CaseEvent
from yibao.cases.service import visible
from yibao.errors import Forbidden
from yibao.reports.measures import Measures, Trend, fetch, rollup, total_of, trend_of
from yibao.reports.period import Period, default_period
from yibao.runtime import Runtime


@dataclass(frozen=True)
class ClerkRow:
    """Cases of one clerk: the person who took them (the intake event's actor)."""

    actor_id: int | None
    name: str
    measures: Measures


@dataclass(frozen=True)
class ItemRow:
    """Cases of one catalogue item."""

    code: str
    name_zh: str
    name_en: str
    measures: Measures


@dataclass(frozen=True)
class Dashboard:
    """A station master's view of their station."""

    station_code: str
    station_name: str
    today: date
    period: Period
    today_measures: Measures  # intake and completions of today; open, due, overdue now
    total: Measures  # the period, every clerk and item together
    clerks: list[ClerkRow]
    items: list[ItemRow]
    trend: Trend


def station_dashboard(
    session: Session, *, runtime: Runtime, actor: Actor, period: Period | None = None
) -> Dashboard:
    """The dashboard of the actor's own station (station masters only)."""
    if actor.role is not Role.STATION_MASTER or not actor.unit:
        raise Forbidden("only a station master sees a station dashboard")
    ref = runtime.reference(session)
    calendar = ref.calendar
    today = runtime.today()
    period = period or default_period(today)
    station = actor.unit
    scope = and_(visible(actor), Case.intake_station == station)

    # One fetch by (clerk, item, day) serves the clerk table, the item table and the trend.
    fetch_period = partial(
        fetch,
        session,
        runtime=runtime,
        keys=[CaseEvent.actor_id, CaseEvent.actor_name, Case.service_code],
        scope=scope,
        by_clerk=True,
    )
    raw = fetch_period(period=period)
    today_only = Period(today, today)
    in_period = period.date_from <= today <= period.date_to
    raw_today = raw if in_period else fetch_period(period=today_only)

    clerks = [
        ClerkRow(actor_id=key[0], name=str(key[1]), measures=a.freeze())
        for key, a in rollup(
            raw, group=lambda k: (k[0], k[1]), period=period, calendar=calendar
        ).items()
    ]
    clerks.sort(key=lambda r: (-r.measures.intake, -r.measures.open, r.name))

    by_item = rollup(raw, group=lambda k: k[2], period=period, calendar=calendar)
    items = []
    for code, a in by_item.items():
        info = ref.services.get(code)
        items.append(
            ItemRow(
                code=code,
                name_zh=info.name_zh if info else code,
                name_en=info.name_en if info else code,
                measures=a.freeze(),
            )
        )
    order = {code: i for i, code in enumerate(ref.services)}
    items.sort(key=lambda r: (-r.measures.intake, order.get(r.code, len(order))))

    return Dashboard(
        station_code=station,
        station_name=ref.unit_names.get(station, station),
        today=today,
        period=period,
        today_measures=total_of(
            rollup(raw_today, group=lambda k: (), period=today_only, calendar=calendar).values()
        ),
        total=total_of(by_item.values()),
        clerks=clerks,
        items=items,
        trend=trend_of(session, raw=raw, scope=scope, period=period),
    )


def station_measures(
    session: Session, *, runtime: Runtime, actor: Actor, station: str, period: Period
) -> Measures:
    """One station's measures over a period, counted as on the dashboard, within the actor's
    sight (a clerk or station master sees their own station; the bureau any)."""
    raw = fetch(
        session,
        runtime=runtime,
        keys=[Case.intake_station],
        scope=and_(visible(actor), Case.intake_station == station),
        period=period,
    )
    calendar = runtime.reference(session).calendar
    return total_of(rollup(raw, group=lambda k: (), period=period, calendar=calendar).values())
