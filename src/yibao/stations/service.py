"""Use cases of the station network: load the shipped files, read stations."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.stations.models import Agency, Station, Town


def _data(name: str) -> dict[str, Any] | None:
    path = resources.files("yibao.stations").joinpath(f"data/{name}")
    if not path.is_file():
        return None
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


def network_files(agency: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The shipped agencies list and this agency's network (towns, stations).

    An agency without a network file of its own gets just its service hall, so a partner
    node (e.g. Jiangjin in a federation demo) can still take and complete cases.
    """
    agencies: list[dict[str, Any]] = (_data("agencies.yaml") or {"agencies": []})["agencies"]
    own = next((a for a in agencies if a["code"] == agency), None)
    if own is None:
        raise ValueError(
            f"unknown agency {agency}; known: {', '.join(a['code'] for a in agencies)}"
        )
    network = _data(f"{agency}.yaml") or {
        "towns": [],
        "stations": [{"code": "BUREAU", "name": f"{own['name_zh']}服务大厅", "kind": "bureau"}],
    }
    return agencies, network


def load_network(session: Session, *, agency: str) -> dict[str, int]:
    """Insert or update the known agencies and this agency's towns and stations."""
    agencies, network = network_files(agency)
    return store_network(session, agency=agency, agencies=agencies, network=network)


def store_network(
    session: Session, *, agency: str, agencies: list[dict[str, Any]], network: dict[str, Any]
) -> dict[str, int]:
    """Write agencies, towns and stations (from the package files or a central bundle)."""
    known = {a.code: a for a in session.scalars(select(Agency))}
    for a in agencies:
        row = known.get(a["code"]) or Agency(code=a["code"])
        row.name_zh, row.name_en = a["name_zh"], a["name_en"]
        row.province, row.region_zh = a.get("province", ""), a.get("region_zh", "")
        session.add(row)
    session.flush()
    release = str(network.get("code_release", ""))
    towns = {
        (t.code, t.release): t for t in session.scalars(select(Town).where(Town.agency == agency))
    }
    for t in network["towns"]:
        rel = str(t.get("release", release))
        town = towns.get((t["code"], rel)) or Town(agency=agency, code=t["code"], release=rel)
        town.name, town.kind = t["name"], t["kind"]
        town.distance_km, town.travel_minutes = t.get("distance_km"), t.get("travel_minutes")
        session.add(town)
    session.flush()
    stations = {s.code: s for s in session.scalars(select(Station).where(Station.agency == agency))}
    for s in network["stations"]:
        st = stations.get(s["code"]) or Station(agency=agency, code=s["code"])
        st.name, st.kind = s["name"], s["kind"]
        st.town_code = s.get("town")
        st.town_release = release if st.town_code else None
        st.master, st.address = s.get("master"), s.get("address")
        st.opening_hours, st.phone = s.get("opening_hours"), s.get("phone")
        st.villages = list(s.get("villages") or [])
        st.active = True
        session.add(st)
    session.flush()
    return {"towns": len(network["towns"]), "stations": len(network["stations"])}


def list_stations(session: Session, *, agency: str) -> list[Station]:
    """Active stations of the agency, in file order."""
    return list(
        session.scalars(
            select(Station).where(Station.agency == agency, Station.active).order_by(Station.id)
        )
    )


def list_towns(session: Session, *, agency: str) -> list[Town]:
    """Towns and streets of the agency."""
    return list(session.scalars(select(Town).where(Town.agency == agency).order_by(Town.code)))
