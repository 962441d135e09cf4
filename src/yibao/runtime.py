"""The node's runtime: settings, database, clock, and cached reference data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from yibao.calendar.rules import WorkCalendar
from yibao.calendar.service import load_calendar
from yibao.catalog import service as catalog
from yibao.catalog.service import ServiceInfo
from yibao.config import Settings
from yibao.db import Database, utcnow
from yibao.sealing import keys as sealing_keys
from yibao.stations import service as stations

if TYPE_CHECKING:
    from yibao.transfers.peers import Federation


@dataclass(frozen=True)
class Reference:
    """Reference data the rules consult on every request: catalogue, units, calendar."""

    services: dict[str, ServiceInfo]
    material_names: dict[str, tuple[str, str]]  # code -> (zh, en)
    units: dict[str, str]  # station code -> kind
    unit_names: dict[str, str]  # station code -> name
    calendar: WorkCalendar

    def bureau_unit(self) -> str | None:
        """The station code of the bureau hall."""
        return next((c for c, k in self.units.items() if k == "bureau"), None)


def load_reference(session: Session, agency: str) -> Reference:
    """Read the reference data of ``agency`` from the database."""
    services = {s.code: catalog.info(s) for s in catalog.list_services(session, agency=agency)}
    materials = {
        code: (m.name_zh, m.name_en)
        for code, m in catalog.material_names(session, agency=agency).items()
    }
    rows = stations.list_stations(session, agency=agency)
    return Reference(
        services=services,
        material_names=materials,
        units={s.code: s.kind for s in rows},
        unit_names={s.code: s.name for s in rows},
        calendar=load_calendar(session),
    )


class Runtime:
    """One per process: what every use case needs besides its own transaction."""

    REFERENCE_TTL = 30.0  # seconds; admin changes reach other processes within this

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        # Personal data is sealed with this node's data key (yibao.sealing.keys).
        sealing_keys.attach(db.engine, sealing_keys.load(settings))
        self.clock: Callable[[], datetime] = clock or utcnow
        self.tz = ZoneInfo("Asia/Shanghai")
        self._reference: Reference | None = None
        # Set by the app when a peers file is configured (cross-region transfers).
        self.federation: Federation | None = None
        self.on_outbox: Callable[[], None] = lambda: None  # the relay's wake-up
        # On a field laptop: queue each case change for the central node (same transaction).
        self.field_hook: Callable[[Session, str, Any, dict[str, Any]], None] | None = None
        # A field laptop numbers its cases "L…" until the central number arrives, so a local
        # number can never be one the central node hands out.
        self.case_no_prefix = ""
        # Called with the password after a successful sign-in (a laptop derives its key).
        self.on_login: Callable[[str], object] = lambda _password: None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    @property
    def keyring(self) -> sealing_keys.Keyring:
        """This node's data keys (re-read after a rotation changes the key file)."""
        return sealing_keys.for_dialect(self.db.engine.dialect)

    @property
    def agency(self) -> str:
        """The division code of this node's agency."""
        return self.settings.agency

    def now(self) -> datetime:
        """The current time (UTC, aware)."""
        return self.clock()

    def local_date(self, moment: datetime) -> date:
        """The agency-local calendar date of ``moment``."""
        return moment.astimezone(self.tz).date()

    def today(self) -> date:
        """Today's agency-local date."""
        return self.local_date(self.now())

    def reference(self, session: Session | None = None) -> Reference:
        """Cached reference data, reloaded after ``REFERENCE_TTL`` or ``invalidate``."""
        with self._lock:
            fresh = time.monotonic() - self._loaded_at < self.REFERENCE_TTL
            if self._reference is not None and fresh:
                return self._reference
            if session is None:
                with self.db.session() as own:
                    ref = load_reference(own, self.agency)
            else:
                ref = load_reference(session, self.agency)
            self._reference, self._loaded_at = ref, time.monotonic()
            return ref

    def invalidate(self) -> None:
        """Forget cached reference data (after an import or an admin change)."""
        with self._lock:
            self._reference = None
