"""Use cases of the catalogue: load the shipped file, read items."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.catalog.models import Material, Service


@dataclass(frozen=True)
class ServiceInfo:
    """A catalogue item as the rules need it."""

    code: str
    name_zh: str
    name_en: str
    time_limit_days: int
    channel_limits: dict[str, int]
    materials: tuple[str, ...]
    accept_kinds: frozenset[str]
    complete_kinds: frozenset[str]
    instant: bool


def catalogue_file() -> dict[str, Any]:
    """The catalogue shipped with the package."""
    text = resources.files("yibao.catalog").joinpath("data/catalogue.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_catalogue(session: Session, *, agency: str, data: dict[str, Any] | None = None) -> int:
    """Insert or update every material and item of the catalogue; returns the item count."""
    data = data or catalogue_file()
    materials = {
        m.code: m for m in session.scalars(select(Material).where(Material.agency == agency))
    }
    for code, names in data["materials"].items():
        row = materials.get(code) or Material(agency=agency, code=code)
        row.name_zh, row.name_en = names["zh"], names["en"]
        session.add(row)
    services = {s.code: s for s in session.scalars(select(Service).where(Service.agency == agency))}
    for item in data["services"]:
        svc = services.get(item["code"]) or Service(agency=agency, code=item["code"])
        svc.name_zh = item["name_zh"]
        svc.name_en = item["name_en"]
        svc.category = item.get("category", "")
        svc.time_limit_days = int(item["time_limit_days"])
        svc.channel_limits = {k: int(v) for k, v in (item.get("channel_limits") or {}).items()}
        svc.materials = list(item.get("materials") or [])
        svc.accept_kinds = list(item["accept"])
        svc.complete_kinds = list(item["complete"])
        svc.instant = bool(item.get("instant", svc.time_limit_days == 0))
        svc.active = True
        session.add(svc)
    session.flush()
    return len(data["services"])


def list_services(session: Session, *, agency: str) -> list[Service]:
    """Active catalogue items in file order."""
    return list(
        session.scalars(
            select(Service).where(Service.agency == agency, Service.active).order_by(Service.id)
        )
    )


def material_names(session: Session, *, agency: str) -> dict[str, Material]:
    """Every material by code."""
    return {m.code: m for m in session.scalars(select(Material).where(Material.agency == agency))}


def info(row: Service) -> ServiceInfo:
    """The rules' view of a stored item."""
    return ServiceInfo(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        time_limit_days=row.time_limit_days,
        channel_limits=dict(row.channel_limits or {}),
        materials=tuple(row.materials or ()),
        accept_kinds=frozenset(row.accept_kinds or ()),
        complete_kinds=frozenset(row.complete_kinds or ()),
        instant=row.instant,
    )
