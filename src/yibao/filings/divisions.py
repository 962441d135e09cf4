"""Destinations of filings: province-level divisions and their prefecture-level cities.

Read once from ``data/divisions.yaml`` (GB/T 2260 codes with names); data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Province:
    """A province-level division and its prefecture-level units, in code order."""

    code: str
    name: str
    cities: tuple[tuple[str, str], ...]  # (code, name)


@dataclass(frozen=True)
class Divisions:
    """The whole table, with lookups by code."""

    release: str
    provinces: tuple[Province, ...]

    @property
    def by_province(self) -> dict[str, frozenset[str]]:
        """Province code → its cities' codes (what the rules check membership against)."""
        return _membership(self)

    def province_name(self, code: str) -> str:
        """The name of a province code, or the code itself when unknown."""
        return _names(self).get(code, code)

    def city_name(self, code: str) -> str:
        """The name of a city code, or the code itself when unknown."""
        return _names(self).get(code, code)

    def cities(self, province: str) -> tuple[tuple[str, str], ...]:
        """The cities of a province (empty for an unknown code)."""
        for p in self.provinces:
            if p.code == province:
                return p.cities
        return ()


@cache
def _membership(d: Divisions) -> dict[str, frozenset[str]]:
    return {p.code: frozenset(c for c, _n in p.cities) for p in d.provinces}


@cache
def _names(d: Divisions) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in d.provinces:
        out[p.code] = p.name
        out.update(dict(p.cities))
    return out


@cache
def load() -> Divisions:
    """The packaged table (cached for the process)."""
    text = resources.files("yibao.filings").joinpath("data/divisions.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    provinces = tuple(
        Province(
            code=str(p["code"]),
            name=str(p["name"]),
            cities=tuple((str(c), str(n)) for c, n in p["cities"]),
        )
        for p in data["provinces"]
    )
    return Divisions(release=str(data["release"]), provinces=provinces)
