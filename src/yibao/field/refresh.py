"""Refresh a set-up laptop: a fresh bundle and a renewed device token, the queue untouched.

``yibao field init`` sets up a fresh folder once; a team refreshes before each trip (and at the
latest every 30 days, when the device token ends). The reference data is replaced, the visits
and the station's waiting cases are brought up to date, and nothing the laptop has queued is
touched: a case with a record still waiting for the central node keeps its local state.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yibao.audit import guard
from yibao.cases.models import Case
from yibao.catalog.models import Service
from yibao.db import Database, utcnow
from yibao.field import crypto
from yibao.field.laptop import FieldError, _detail, _load_bundle, state, sync_lock, unlock
from yibao.field.models import FieldQueue, FieldState
from yibao.questionnaires.models import QuestionnaireTemplate
from yibao.visits.models import Visit


def refresh(db: Database, *, agency: str, password: str) -> dict[str, Any]:
    """Sign in centrally, renew the device token and load a fresh bundle; returns counts."""
    st = state(db)
    if st is None:
        raise FieldError("this is not a field laptop (run yibao field init)")
    if not unlock(db, password):
        raise FieldError("wrong password")
    with httpx.Client(base_url=st.central_url, timeout=60) as http:
        try:
            r = http.post(
                "/api/v1/auth/token", json={"username": st.username, "password": password}
            )
            if r.status_code != 200:
                raise FieldError(f"central sign-in failed: {r.status_code} {_detail(r)}")
            http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            r = http.post(f"/api/v1/field/devices/{st.device_id}/token")
            if r.status_code == 403 and "revoked" in r.text:
                raise FieldError("this laptop was revoked centrally; ask the bureau")
            if r.status_code != 200:
                raise FieldError(f"could not renew the device token: {r.status_code} {_detail(r)}")
            token = str(r.json()["device_token"])
            http.headers["Authorization"] = f"Bearer {token}"
            r = http.get("/api/v1/field/bundle")
            if r.status_code != 200:
                raise FieldError(f"could not download the day's data: {r.status_code} {_detail(r)}")
            data = r.json()
        except httpx.HTTPError as exc:
            raise FieldError(f"the central node does not answer: {exc}") from None
    if data.get("agency") != agency:
        raise FieldError(f"central node is agency {data.get('agency')}; set YIBAO_AGENCY to it")
    # Not while a sync runs: it writes the same cases' numbers and versions.
    with sync_lock(db), db.uow() as uow:
        guard.bulk(uow.session, "field laptop: central's reference data and cases refreshed")
        counts = _merge(uow.session, agency, data)
        row = uow.session.scalar(select(FieldState))
        assert row is not None
        row.device_token = crypto.encrypt(token)
        uow.commit()
    return counts


def _merge(s: Session, agency: str, data: dict[str, Any]) -> dict[str, int]:
    offered = {item["code"] for item in data["catalogue"]["services"]}
    known_visits = {v.id: v for v in s.scalars(select(Visit).where(Visit.agency == agency))}
    visits = data.get("visits") or []
    for v in visits:
        row = known_visits.get(uuid.UUID(v["id"]))
        if row is not None:
            row.visit_date = date.fromisoformat(v["visit_date"])
            row.start_time = time.fromisoformat(v["start_time"])
            row.end_time = time.fromisoformat(v["end_time"])
            row.village, row.team = v["village"], v.get("team") or []
            row.state, row.note, row.updated_at = v["state"], v.get("note"), utcnow()
    known_templates = set(s.scalars(select(QuestionnaireTemplate.code)))
    known_cases = {c.id: c for c in s.scalars(select(Case).where(Case.agency == agency))}
    # Cases with a record still queued keep the laptop's state: the queue is the truth there.
    queued = set(s.scalars(select(FieldQueue.local_case_no).where(FieldQueue.status != "acked")))
    fresh_cases, updated = [], 0
    for c in data["waiting_cases"]:
        local = known_cases.get(uuid.UUID(c["id"]))
        if local is None:
            fresh_cases.append(c)
        elif local.case_no not in queued:
            _update_case(s, local, c)
            updated += 1
    _load_bundle(
        s,
        agency,
        {
            **data,
            "visits": [v for v in visits if uuid.UUID(v["id"]) not in known_visits],
            "questionnaires": [
                q for q in data.get("questionnaires") or [] if q["code"] not in known_templates
            ],
            "waiting_cases": fresh_cases,
        },
    )
    # An item retired centrally is no longer offered on the laptop.
    s.execute(
        update(Service)
        .where(Service.agency == agency, Service.code.not_in(offered))
        .values(active=False)
    )
    return {
        "services": len(offered),
        "visits": len(visits),
        "new_waiting_cases": len(fresh_cases),
        "updated_cases": updated,
    }


def _update_case(s: Session, case: Case, c: dict[str, Any]) -> None:
    case.state = c["state"]
    case.materials_received = c["materials_received"]
    case.materials_missing = c["materials_missing"]
    case.due_date = date.fromisoformat(c["due_date"])
    case.remaining_days = c["remaining_days"]
    case.received_at = datetime.fromisoformat(c["received_at"])
    case.updated_at = utcnow()
    s.flush()
    # The central version is the laptop's version (the ORM's counter would add one).
    s.execute(update(Case).where(Case.id == case.id).values(version=c["version"]))
