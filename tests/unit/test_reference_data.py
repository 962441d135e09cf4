"""The shipped reference data (catalogue, agencies, Yongchuan network) keeps its schema."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import yibao

PACKAGE = Path(yibao.__file__).parent
KINDS = {"bureau", "fixed", "town", "village", "mobile"}
CHANNELS = {"window", "mobile", "online", "phone"}

# Every item of DESIGN.md section 3, by its Chinese name; 零星报销 is split in three below.
DESIGN_ITEMS = [
    "城乡居民参保登记",
    "职工参保登记",
    "参保信息变更登记",
    "参保信息查询、出具参保凭证",
    "医保关系转移接续",
    "异地就医备案",
    "门诊慢特病待遇认定",
    "生育保险待遇",
    "个人账户一次性支取",
    "医疗救助",
    "政策咨询",
    "投诉与矛盾纠纷",
    "监督线索",
]
STREETS = ["中山路", "胜利路", "南大街", "茶山竹海", "大安", "陈食", "卫星湖"]
TOWNS = ["青峰", "金龙", "临江", "何埂", "松溉", "仙龙", "吉安", "五间"]
TOWNS += ["来苏", "宝峰", "双石", "红炉", "永荣", "三教", "板桥", "朱沱"]


def load(relative: str) -> Any:
    return yaml.safe_load((PACKAGE / relative).read_text("utf-8"))


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    data: dict[str, Any] = load("catalog/data/catalogue.yaml")
    return data


@pytest.fixture(scope="module")
def services(catalogue: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["code"]: s for s in catalogue["services"]}


@pytest.fixture(scope="module")
def agencies() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load("stations/data/agencies.yaml")["agencies"]
    return data


@pytest.fixture(scope="module")
def network() -> dict[str, Any]:
    data: dict[str, Any] = load("stations/data/500118.yaml")
    return data


# --- catalogue --------------------------------------------------------------------------------


def test_materials_have_both_names(catalogue: dict[str, Any]) -> None:
    for code, names in catalogue["materials"].items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert set(names) == {"zh", "en"}
        assert all(isinstance(v, str) and v for v in names.values()), code


def test_every_design_item_is_present(catalogue: dict[str, Any]) -> None:
    names = [s["name_zh"] for s in catalogue["services"]]
    assert [n for n in DESIGN_ITEMS if n not in names] == []
    assert len(names) == len(set(names))


def test_manual_reimbursement_is_split(services: dict[str, dict[str, Any]]) -> None:
    split = {s["name_zh"]: s["time_limit_days"] for s in services.values()}
    split = {name: days for name, days in split.items() if name.startswith("零星报销")}
    assert sorted(split.values()) == [5, 10, 10]
    assert any("门诊" in n and "1000" in n and split[n] == 5 for n in split)
    assert any("住院" in n for n in split)


def test_service_fields(catalogue: dict[str, Any]) -> None:
    codes = [s["code"] for s in catalogue["services"]]
    assert len(codes) == len(set(codes))
    required = {"code", "name_zh", "name_en", "time_limit_days", "materials", "accept"}
    required |= {"complete", "instant", "category"}
    for s in catalogue["services"]:
        assert required <= set(s), s["code"]
        assert set(s) <= required | {"channel_limits"}, s["code"]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", s["code"])
        assert s["name_zh"] and s["name_en"] and s["category"]
        limit = s["time_limit_days"]
        assert isinstance(limit, int) and limit >= 0
        assert s["instant"] is (limit == 0), s["code"]
        limits = s.get("channel_limits") or {}
        assert set(limits) <= CHANNELS, s["code"]
        assert all(isinstance(v, int) and v >= 0 for v in limits.values())


def test_materials_are_few_and_defined(catalogue: dict[str, Any]) -> None:
    defined = set(catalogue["materials"])
    used: set[str] = set()
    for s in catalogue["services"]:
        assert len(s["materials"]) <= 4, s["code"]
        assert len(s["materials"]) == len(set(s["materials"])), s["code"]
        assert set(s["materials"]) <= defined, s["code"]
        used |= set(s["materials"])
    assert used == defined, "a material no item asks for"


def test_station_kinds(catalogue: dict[str, Any]) -> None:
    for s in catalogue["services"]:
        accept, complete = set(s["accept"]), set(s["complete"])
        assert accept <= KINDS and complete <= KINDS, s["code"]
        assert complete and complete <= accept, s["code"]
        assert "bureau" in complete, "the bureau hall can complete every item"


def test_about_half_are_instant(catalogue: dict[str, Any]) -> None:
    instant = sum(s["instant"] for s in catalogue["services"])
    assert 0.3 <= instant / len(catalogue["services"]) <= 0.6


def test_specific_items(services: dict[str, dict[str, Any]]) -> None:
    filing = services["remote_care_filing"]
    assert filing["time_limit_days"] == 0
    assert filing["channel_limits"] == {"online": 1}
    assert {"id_card", "remote_care_proof", "commitment_letter"} <= set(filing["materials"])
    assert "fixed" in filing["complete"]

    transfer = services["relationship_transfer"]
    assert transfer["time_limit_days"] == 15
    assert transfer["complete"] == ["bureau"]

    lead = services["supervision_lead"]
    assert set(lead["accept"]) == {"bureau", "fixed"}
    assert lead["complete"] == ["bureau"]

    assert set(services["chronic_disease_recognition"]["complete"]) == {"bureau", "fixed"}
    assert set(services["medical_assistance"]["complete"]) == {"bureau", "town"}
    assert services["complaint"]["complete"] == ["bureau"]
    assert set(services["complaint"]["accept"]) == KINDS
    for code in ("outpatient_reimbursement", "inpatient_reimbursement", "maternity_benefits"):
        assert services[code]["complete"] == ["bureau"]
        assert set(services[code]["accept"]) == KINDS


# --- agencies ---------------------------------------------------------------------------------


def test_agencies(agencies: list[dict[str, Any]]) -> None:
    codes = [a["code"] for a in agencies]
    assert codes == ["500118", "500116", "510500"]
    for a in agencies:
        assert isinstance(a["code"], str) and re.fullmatch(r"[0-9]{6}", a["code"])
        assert a["name_zh"] and a["name_en"] and a["province"] and a["region_zh"]


# --- Yongchuan network ------------------------------------------------------------------------


def test_network_header(network: dict[str, Any], agencies: list[dict[str, Any]]) -> None:
    assert network["agency"] == "500118"
    assert network["agency"] in {a["code"] for a in agencies}
    assert isinstance(network["code_release"], str)


def test_towns(network: dict[str, Any]) -> None:
    towns = network["towns"]
    streets = [t["name"] for t in towns if t["kind"] == "street"]
    plain = [t["name"] for t in towns if t["kind"] == "town"]
    assert len(towns) == len(streets) + len(plain)
    assert streets == [f"{n}街道" for n in STREETS]
    assert sorted(plain) == sorted(f"{n}镇" for n in TOWNS)
    codes = [t["code"] for t in towns]
    assert len(codes) == len(set(codes))
    for t in towns:
        assert isinstance(t["code"], str) and re.fullmatch(r"500118[0-9]{3}", t["code"])
        assert t["release"] == network["code_release"]
        assert t["distance_km"] > 0 and t["travel_minutes"] > 0


def test_zhutuo_is_the_farthest(network: dict[str, Any]) -> None:
    farthest_km = max(network["towns"], key=lambda t: t["distance_km"])
    farthest_min = max(network["towns"], key=lambda t: t["travel_minutes"])
    assert farthest_km["name"] == farthest_min["name"] == "朱沱镇"


def test_stations(network: dict[str, Any]) -> None:
    stations = network["stations"]
    assert len(stations) == 23
    kinds = Counter(s["kind"] for s in stations)
    assert kinds == {"bureau": 1, "fixed": 2, "town": 1, "village": 1, "mobile": 18}
    codes = [s["code"] for s in stations]
    assert len(codes) == len(set(codes))
    assert all(isinstance(c, str) for c in codes)
    assert {s["code"] for s in stations if s["kind"] == "bureau"} == {"BUREAU"}
    assert {s["code"] for s in stations if s["kind"] == "fixed"} == {"F01", "F02"}
    mobile = [s["code"] for s in stations if s["kind"] == "mobile"]
    assert mobile == [f"M{i:02d}" for i in range(1, 19)]
    names = [s["name"] for s in stations]
    assert len(names) == len(set(names))
    for s in stations:
        assert s["master"] and s["address"], s["code"]


def test_station_towns_exist(network: dict[str, Any]) -> None:
    towns = {t["code"]: t["name"] for t in network["towns"]}
    for s in network["stations"]:
        assert s["town"] in towns, s["code"]
    homes = {towns[s["town"]] for s in network["stations"] if s["kind"] == "mobile"}
    assert "朱沱镇" in homes
    assert len(homes) >= 12, "mobile stations are spread over the district"


def test_villages(network: dict[str, Any]) -> None:
    towns = {t["code"]: t["name"] for t in network["towns"]}
    (village,) = [s for s in network["stations"] if s["kind"] == "village"]
    assert towns[village["town"]] == "五间镇"
    assert set(village["villages"]) == {"新建村", "景圣村"}
    seen: list[str] = []
    for s in network["stations"]:
        if s["kind"] == "mobile":
            assert 3 <= len(s["villages"]) <= 6, s["code"]
        seen += s.get("villages", [])
    assert all(isinstance(v, str) and v.endswith(("村", "社区")) for v in seen)
    assert len(seen) == len(set(seen)), "a village belongs to one station's round"
