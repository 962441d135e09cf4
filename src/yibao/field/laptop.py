"""The laptop's side of field mode: set up from the central node, queue changes, sync.

Every case taken and every action done on the laptop puts a record in ``field_queue`` in the
same transaction. ``sync_once`` sends pending records in batches; a record is marked acked
only when the central node answered for it, so a cut connection loses nothing, and sending it
again duplicates nothing (the central node answers a known record with its first answer).
"""

from __future__ import annotations

import base64
import fcntl
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.accounts.service import create_user
from yibao.audit import guard
from yibao.calendar.rules import YearSchedule
from yibao.calendar.service import store_schedule
from yibao.cases.models import Case, CaseEvent
from yibao.catalog.service import load_catalogue
from yibao.config import Settings
from yibao.db import Database, utcnow
from yibao.field import crypto
from yibao.field.models import FieldQueue, FieldState
from yibao.field.queue import enqueue, enqueue_record, queued_case
from yibao.migrate import upgrade
from yibao.people.rules import name_initials
from yibao.runtime import Runtime
from yibao.stations.service import store_network
from yibao.visits.models import Visit

__all__ = ["enqueue", "enqueue_record", "queued_case"]  # the queue lives in field/queue.py

BATCH = 50


class FieldError(Exception):
    """Something the team should read (shown as it is)."""


class SyncBusy(FieldError):
    """Another sync of this laptop is running."""


# ---------------------------------------------------------------- set-up


def init(
    settings: Settings, *, central_url: str, username: str, password: str, label: str = ""
) -> dict[str, Any]:
    """Sign in centrally, register this laptop, download the bundle into a fresh local file."""
    base = central_url.rstrip("/")
    with httpx.Client(base_url=base, timeout=60) as http:
        r = http.post("/api/v1/auth/token", json={"username": username, "password": password})
        if r.status_code != 200:
            raise FieldError(f"central sign-in failed: {r.status_code} {_detail(r)}")
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        r = http.post("/api/v1/field/devices", json={"label": label})
        if r.status_code != 201:
            raise FieldError(f"could not register this laptop: {r.status_code} {_detail(r)}")
        device = r.json()
        http.headers["Authorization"] = f"Bearer {device['device_token']}"
        r = http.get("/api/v1/field/bundle")
        if r.status_code != 200:
            raise FieldError(f"could not download the day's data: {r.status_code} {_detail(r)}")
        data = r.json()
    if data["agency"] != settings.agency:
        raise FieldError(f"central node is agency {data['agency']}; set YIBAO_AGENCY to it")
    url = settings.resolved_database_url()
    upgrade(url)
    salt = os.urandom(16)
    key = crypto.derive_key(password, salt)
    crypto.activate(key)
    db = Database(url)
    try:
        with db.uow() as uow:
            s = uow.session
            guard.bulk(s, "field laptop set-up: central's reference data")
            if s.scalar(select(FieldState)) is not None:
                raise FieldError("this data folder is already set up; use a fresh one")
            _load_bundle(s, settings.agency, data)
            user = data["user"]
            create_user(
                s,
                agency=settings.agency,
                username=user["username"],
                role=user["role"],
                password=password,
                station=user["station"],
                display_name=user["display_name"],
                by="field-init",
            )
            s.add(
                FieldState(
                    id=1,
                    central_url=base,
                    device_id=uuid.UUID(device["id"]),
                    username=username,
                    station_code=user["station"],
                    salt=base64.b64encode(salt).decode(),
                    key_check=crypto.key_check(key),
                    device_token=crypto.encrypt(device["device_token"]),
                    initialised_at=utcnow(),
                )
            )
            uow.commit()
    finally:
        db.dispose()
    return {
        "device_id": device["id"],
        "station": data["user"]["station"],
        "waiting_cases": len(data["waiting_cases"]),
        "services": len(data["catalogue"]["services"]),
    }


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", ""))
    except ValueError:
        return r.text[:200]


def _load_bundle(s: Session, agency: str, data: dict[str, Any]) -> None:
    net = data["network"]
    store_network(s, agency=agency, agencies=net["agencies"], network=net)
    load_catalogue(s, agency=agency, data=data["catalogue"])
    for y in data["calendar"]:
        store_schedule(
            s,
            YearSchedule(
                year=int(y["year"]),
                source=y.get("source", ""),
                holidays=frozenset(date.fromisoformat(d) for d in y["holidays"]),
                workdays=frozenset(date.fromisoformat(d) for d in y["workdays"]),
            ),
        )
    s.flush()
    for v in data.get("visits") or []:
        # The team's visits of the coming weeks: cases taken there link to them.
        s.add(
            Visit(
                id=uuid.UUID(v["id"]),
                agency=agency,
                station_code=v["station_code"],
                town_code=v["town_code"],
                town_release=v["town_release"],
                village=v["village"],
                visit_date=date.fromisoformat(v["visit_date"]),
                start_time=time.fromisoformat(v["start_time"]),
                end_time=time.fromisoformat(v["end_time"]),
                team=v.get("team") or [],
                state=v["state"],
                note=v.get("note"),
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    s.flush()
    if data.get("questionnaires"):
        from yibao.questionnaires.responses import store_bundle

        store_bundle(s, agency=agency, items=data["questionnaires"])
    for c in data["waiting_cases"]:
        # A central case waiting for materials: kept with its central number and version, and
        # only the masked ID (the laptop never holds more than it needs).
        case = Case(
            id=uuid.UUID(c["id"]),
            agency=agency,
            case_no=c["case_no"],
            service_code=c["service_code"],
            intake_station=data["user"]["station"],
            unit=data["user"]["station"],
            channel=c["channel"],
            state=c["state"],
            applicant_id_number=c["applicant"]["id_masked"],
            applicant_id_tail=c["applicant"]["id_tail"],
            applicant_name=c["applicant"]["name"],
            applicant_initials=name_initials(c["applicant"]["name"]),
            applicant_phone=c["applicant"]["phone"],
            materials_received=c["materials_received"],
            materials_missing=c["materials_missing"],
            received_at=datetime.fromisoformat(c["received_at"]),
            intake_date=date.fromisoformat(c["intake_date"]),
            due_date=date.fromisoformat(c["due_date"]),
            remaining_days=c["remaining_days"],
            created_at=utcnow(),
            updated_at=utcnow(),
            version=c["version"],
        )
        s.add(case)
        s.flush()
        # The central version must stay the laptop's version: set it past the ORM's counter.
        s.execute(update(Case).where(Case.id == case.id).values(version=c["version"]))
        s.add(
            CaseEvent(
                agency=agency,
                case_id=case.id,
                seq=1,
                at=utcnow(),
                actor_id=None,
                actor_name="中心下载",
                actor_role="system",
                action="download",
                from_state=None,
                to_state=c["state"],
                detail={"central_version": c["version"]},
            )
        )


# ---------------------------------------------------------------- unlocking


def state(db: Database) -> FieldState | None:
    """The laptop's field state, or None on a central node."""
    with db.session() as s:
        try:
            return s.scalar(select(FieldState))
        except Exception:  # no table yet: not a field laptop
            return None


def unlock(db: Database, password: str) -> bool:
    """Derive the key from the password; True when it is the right one (then it is loaded)."""
    st = state(db)
    if st is None:
        return False
    key = crypto.derive_key(password, base64.b64decode(st.salt))
    if crypto.key_check(key) != st.key_check:
        return False
    crypto.activate(key)
    return True


# ---------------------------------------------------------------- the queue


def counts(db: Database) -> dict[str, int]:
    """How many records are pending, quarantined and in conflict."""
    with db.session() as s:
        rows = s.execute(select(FieldQueue.status, func.count()).group_by(FieldQueue.status))
        return {status: int(n) for status, n in rows}


@dataclass
class Progress:
    """What a running sync has done (the UI polls it)."""

    running: bool = False
    total: int = 0
    sent: int = 0
    acked: int = 0
    quarantined: int = 0
    conflicts: int = 0
    error: str | None = None
    finished_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def sync_once(
    runtime: Runtime,
    *,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Progress:
    """Send every pending record, in order, in batches; mark each as the central node answers."""
    db = runtime.db
    p = progress or Progress()
    st = state(db)
    if st is None:
        raise FieldError("this is not a field laptop (run yibao field init)")
    if not crypto.has_key():
        raise FieldError("sign in first: the laptop's key is not loaded")
    token = crypto.decrypt(st.device_token)
    try:
        with sync_lock(db):
            return _sync_locked(db, st, token, p, transport, on_batch)
    except SyncBusy:
        # Two syncs at once would send the same records twice; the running one does the work.
        p.running, p.error, p.finished_at = False, SYNC_BUSY, utcnow()
        raise


def _sync_locked(
    db: Database,
    st: FieldState,
    token: str,
    p: Progress,
    transport: httpx.BaseTransport | None,
    on_batch: Callable[[int], None] | None,
) -> Progress:
    p.running, p.error = True, None
    with db.session() as s:
        p.total = (
            s.scalar(
                select(func.count()).select_from(FieldQueue).where(FieldQueue.status == "pending")
            )
            or 0
        )
    try:
        with httpx.Client(
            base_url=st.central_url,
            timeout=60,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            while True:
                with db.session() as s:
                    batch = list(
                        s.scalars(
                            select(FieldQueue)
                            .where(FieldQueue.status == "pending")
                            .order_by(FieldQueue.id)
                            .limit(BATCH)
                        )
                    )
                if not batch:
                    break
                records = [_wire(q) for q in batch]
                r = http.post("/api/v1/field/sync", json={"records": records})
                if r.status_code == 403 and "revoked" in r.text:
                    _mark_revoked(db)
                    raise FieldError("this laptop was revoked centrally; sync refused")
                if r.status_code != 200:
                    raise FieldError(f"central node answered {r.status_code}: {_detail(r)}")
                _record_answers(db, batch, r.json()["results"], p)
                p.sent += len(batch)
                if on_batch:
                    on_batch(len(batch))
        _finish(db, None)
    except (httpx.HTTPError, FieldError) as exc:
        p.error = str(exc) or exc.__class__.__name__
        _finish(db, p.error)
        raise FieldError(p.error) from None
    finally:
        p.running = False
        p.finished_at = utcnow()
    return p


def _wire(q: FieldQueue) -> dict[str, Any]:
    payload = dict(q.payload)
    if q.kind == "case":
        applicant = dict(payload["applicant"])
        applicant["id_number"] = crypto.decrypt(applicant["id_number"])
        payload["applicant"] = applicant
        # The printed number: central keeps it, so the citizen's receipt stays good.
        return {
            "client_id": str(q.client_id),
            "kind": q.kind,
            "payload": payload,
            "local_case_no": q.local_case_no,
        }
    return {"client_id": str(q.client_id), "kind": q.kind, "payload": payload}


SYNC_BUSY = (
    "another sync is already running on this laptop (立即同步 or yibao field sync); "
    "wait for it to finish · 本机已有一次同步在进行，请等它结束"
)


@contextmanager
def sync_lock(db: Database) -> Iterator[None]:
    """One sync at a time per laptop, across processes (the page's button and the CLI)."""
    path = _lock_path(db)
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(SYNC_BUSY) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_path(db: Database) -> str:
    database = db.engine.url.database
    if not database or database == ":memory:":
        return os.path.join(tempfile.gettempdir(), f"yibao-field-{os.getuid()}.lock")
    return database + ".sync-lock"


def _record_answers(
    db: Database, batch: list[FieldQueue], answers: list[dict[str, Any]], p: Progress
) -> None:
    by_id = {a.get("client_id"): a for a in answers}
    with db.uow() as uow:
        s = uow.session
        # Central's answers: its case numbers for the laptop's cases (central recorded each
        # intake); the queue itself is bookkeeping.
        guard.bulk(s, "field sync: central's case numbers")
        for q in batch:
            answer = by_id.get(str(q.client_id))
            row = s.get(FieldQueue, q.id)
            if answer is None or row is None:
                continue  # not answered: stays pending for the next sync
            status = answer.get("status")
            row.attempts += 1
            row.central_case_no = answer.get("case_no") or row.central_case_no
            if status == "accepted":
                row.status, row.acked_at = "acked", utcnow()
                p.acked += 1
                if q.kind == "case" and answer.get("case_no"):
                    # From now on the laptop shows the central case number.
                    s.execute(
                        update(Case).where(Case.id == q.client_id).values(case_no=answer["case_no"])
                    )
            elif status == "conflict":
                row.status, row.reason = "conflict", str(answer.get("reason") or "")
                p.conflicts += 1
            else:
                row.status, row.reason = "quarantined", str(answer.get("reason") or status)
                p.quarantined += 1
        uow.commit()


def _finish(db: Database, error: str | None) -> None:
    with db.uow() as uow:
        st = uow.session.scalar(select(FieldState))
        if st is not None:
            if error is None:
                st.last_sync_at = utcnow()
            st.last_sync_error = error
        uow.commit()


def _mark_revoked(db: Database) -> None:
    with db.uow() as uow:
        st = uow.session.scalar(select(FieldState))
        if st is not None:
            st.revoked = True
        uow.commit()


def local_password_ok(db: Database, username: str) -> bool:
    """Whether the laptop's user exists (for the sign-in page)."""
    with db.session() as s:
        return s.scalar(select(User.id).where(User.username == username)) is not None


_reach: dict[str, tuple[float, bool]] = {}


def central_reachable(url: str, *, ttl: float = 10.0) -> bool:
    """Whether the central node answers /healthz (checked at most every ``ttl`` seconds)."""
    import time as clock

    now = clock.monotonic()
    cached = _reach.get(url)
    if cached and now - cached[0] < ttl:
        return cached[1]
    try:
        ok = httpx.get(url.rstrip("/") + "/healthz", timeout=1.5).status_code == 200
    except httpx.HTTPError:
        ok = False
    _reach[url] = (now, ok)
    return ok
