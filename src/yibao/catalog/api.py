"""HTTP adapter of the catalogue and the station network (reference data, any signed-in user)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from yibao.catalog import service as catalog
from yibao.stations import service as stations
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["reference"])


@router.get("/services")
def list_services(
    runtime: RuntimeDep, _actor: ActorDep, session: SessionDep
) -> list[dict[str, Any]]:
    """The service catalogue: time limits in working days (0 = instant) and materials."""
    names = catalog.material_names(session, agency=runtime.agency)
    return [
        {
            "code": s.code,
            "name": s.name_zh,
            "name_en": s.name_en,
            "category": s.category,
            "time_limit_days": s.time_limit_days,
            "channel_limits": s.channel_limits or {},
            "instant": s.instant,
            "materials": [
                {
                    "code": m,
                    "name": names[m].name_zh if m in names else m,
                    "name_en": names[m].name_en if m in names else m,
                }
                for m in s.materials or []
            ],
            "accept_kinds": s.accept_kinds,
            "complete_kinds": s.complete_kinds,
        }
        for s in catalog.list_services(session, agency=runtime.agency)
    ]


@router.get("/stations")
def list_stations(
    runtime: RuntimeDep, _actor: ActorDep, session: SessionDep
) -> list[dict[str, Any]]:
    """The agency's service stations and the bureau hall."""
    towns = {t.code: t.name for t in stations.list_towns(session, agency=runtime.agency)}
    return [
        {
            "code": s.code,
            "name": s.name,
            "kind": s.kind,
            "town_code": s.town_code,
            "town_name": towns.get(s.town_code or ""),
            "master": s.master,
            "address": s.address,
            "opening_hours": s.opening_hours,
            "phone": s.phone,
            "villages": s.villages or [],
        }
        for s in stations.list_stations(session, agency=runtime.agency)
    ]
