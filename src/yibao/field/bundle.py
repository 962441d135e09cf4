"""The day's bundle: what a laptop needs to work a day offline (central side)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.calendar.service import load_schedules
from yibao.cases.lifecycle import State
from yibao.cases.models import Case
from yibao.catalog.models import Material, Service
from yibao.people.rules import mask_id
from yibao.runtime import Runtime
from yibao.stations.models import Agency, Station, Town
from yibao.visits.models import Visit


def bundle(session: Session, *, runtime: Runtime, actor: Actor) -> dict[str, Any]:
    """What a laptop needs for a day offline: reference data and the station's waiting cases."""
    agency = runtime.agency
    materials = {
        m.code: {"zh": m.name_zh, "en": m.name_en}
        for m in session.scalars(select(Material).where(Material.agency == agency))
    }
    services = [
        {
            "code": s.code,
            "name_zh": s.name_zh,
            "name_en": s.name_en,
            "category": s.category,
            "time_limit_days": s.time_limit_days,
            "channel_limits": s.channel_limits or {},
            "materials": s.materials or [],
            "accept": s.accept_kinds,
            "complete": s.complete_kinds,
            "instant": s.instant,
        }
        for s in session.scalars(
            select(Service).where(Service.agency == agency, Service.active).order_by(Service.id)
        )
    ]
    agencies = [
        {
            "code": a.code,
            "name_zh": a.name_zh,
            "name_en": a.name_en,
            "province": a.province,
            "region_zh": a.region_zh,
        }
        for a in session.scalars(select(Agency))
    ]
    towns = [
        {
            "code": t.code,
            "release": t.release,
            "name": t.name,
            "kind": t.kind,
            "distance_km": t.distance_km,
            "travel_minutes": t.travel_minutes,
        }
        for t in session.scalars(select(Town).where(Town.agency == agency))
    ]
    stations = [
        {
            "code": s.code,
            "name": s.name,
            "kind": s.kind,
            "town": s.town_code,
            "master": s.master,
            "address": s.address,
            "villages": s.villages or [],
        }
        for s in session.scalars(select(Station).where(Station.agency == agency, Station.active))
    ]
    release = next((t["release"] for t in towns), "")
    calendar = [
        {
            "year": y.year,
            "source": y.source,
            "holidays": sorted(d.isoformat() for d in y.holidays),
            "workdays": sorted(d.isoformat() for d in y.workdays),
        }
        for y in load_schedules(session)
    ]
    waiting = (
        []
        if not actor.unit
        else [
            {
                "case_no": c.case_no,
                "id": str(c.id),
                "service_code": c.service_code,
                "channel": c.channel,
                "state": c.state,
                "version": c.version,
                "applicant": {
                    "id_masked": mask_id(c.applicant_id_number),
                    "id_tail": c.applicant_id_tail,
                    "name": c.applicant_name,
                    "phone": c.applicant_phone,
                },
                "materials_received": c.materials_received or [],
                "materials_missing": c.materials_missing or [],
                "received_at": c.received_at.isoformat(),
                "intake_date": c.intake_date.isoformat(),
                "due_date": c.due_date.isoformat(),
                "remaining_days": c.remaining_days,
            }
            for c in session.scalars(
                select(Case)
                .where(
                    Case.agency == agency,
                    Case.unit == actor.unit,
                    Case.state == State.MATERIALS_PENDING.value,
                )
                .limit(2000)
            )
        ]
    )
    today = runtime.today()
    visits = (
        []
        if not actor.unit
        else [
            {
                "id": str(v.id),
                "station_code": v.station_code,
                "town_code": v.town_code,
                "town_release": v.town_release,
                "village": v.village,
                "visit_date": v.visit_date.isoformat(),
                "start_time": v.start_time.isoformat(),
                "end_time": v.end_time.isoformat(),
                "team": v.team or [],
                "state": v.state,
                "note": v.note,
            }
            for v in session.scalars(
                select(Visit)
                .where(
                    Visit.agency == agency,
                    Visit.station_code == actor.unit,
                    Visit.visit_date >= today - timedelta(days=1),
                    Visit.visit_date <= today + timedelta(days=21),
                )
                .order_by(Visit.visit_date)
            )
        ]
    )
    from yibao.questionnaires.responses import bundle_items

    return {
        "agency": agency,
        "visits": visits,
        "questionnaires": bundle_items(session, agency=agency),
        "user": {
            "username": actor.username,
            "display_name": actor.display_name,
            "role": actor.role.value,
            "station": actor.unit,
        },
        "catalogue": {"materials": materials, "services": services},
        "network": {
            "agencies": agencies,
            "code_release": release,
            "towns": towns,
            "stations": stations,
        },
        "calendar": calendar,
        "waiting_cases": waiting,
        "generated_at": runtime.now().isoformat(),
    }
