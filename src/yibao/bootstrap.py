"""Loading an agency's reference data into its database (``yibao init``)."""

from __future__ import annotations

from sqlalchemy import select

from yibao.audit import guard
from yibao.audit import service as audit
from yibao.calendar.models import CalendarYear
from yibao.calendar.rules import schedules_from_chinesecalendar
from yibao.calendar.service import store_schedule
from yibao.catalog.service import load_catalogue
from yibao.config import Settings
from yibao.db import Database
from yibao.stations.service import load_network
from yibao.visits.service import load_villages


def init_reference(settings: Settings) -> dict[str, int]:
    """Load catalogue, stations, towns and the official calendars; safe to run again."""
    db = Database(settings.resolved_database_url())
    try:
        with db.uow() as uow:
            guard.bulk(uow.session, "reference data: catalogue, stations, towns, calendars")
            network = load_network(uow.session, agency=settings.agency)
            villages = load_villages(uow.session, agency=settings.agency)
            services = load_catalogue(uow.session, agency=settings.agency)
            known = set(uow.session.scalars(select(CalendarYear.year)))
            # Years an admin imported by hand are kept; only missing years come from the package.
            for schedule in schedules_from_chinesecalendar():
                if schedule.year not in known:
                    store_schedule(uow.session, schedule)
            audit.record(
                uow.session,
                agency=settings.agency,
                actor_id=None,
                actor_name="system",
                action="system.reference_init",
                object_type="agency",
                object_id=settings.agency,
                detail={
                    "services": services,
                    "stations": network["stations"],
                    "towns": network["towns"],
                    "villages": villages,
                },
            )
            uow.commit()
            years = sorted(uow.session.scalars(select(CalendarYear.year)))
    finally:
        db.dispose()
    return {
        "services": services,
        "stations": network["stations"],
        "towns": network["towns"],
        "villages": villages,
        "calendar_years": len(years),
    }
