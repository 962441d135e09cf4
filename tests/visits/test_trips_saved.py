"""Trips saved (少跑路) at a village station count its own village's way, not its town's."""

from __future__ import annotations

from tests.api.helpers import intake_body
from yibao.visits.rules import home_village


def test_home_village_is_the_one_its_address_names() -> None:
    assert home_village("village", ["新建村", "景圣村"], "五间镇新建村便民服务室") == "新建村"
    assert home_village("village", ["景圣村", "新建村"], "五间镇新建村便民服务室") == "新建村"
    assert home_village("village", ["景圣村"], None) == "景圣村"
    assert home_village("village", [], "新建村") is None
    assert home_village("town", ["新建村"], "新建村") is None
    assert home_village("mobile", ["青峰村"], None) is None


def test_a_village_station_saves_its_own_village_s_way(api, vnode) -> None:  # type: ignore[no-untyped-def]
    body = intake_body(station_code="V01", channel="window")
    r = api("clerk_v01", "POST", "/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    r = api(
        "clerk_v01",
        "POST",
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": "complete", "version": case["version"]},
    )
    assert r.status_code == 200, r.text

    report = api("supervisor", "GET", "/api/v1/reports/trips-saved").json()
    v01 = next(s for s in report["by_station"] if s["code"] == "V01")
    # 新建村 is 27 km and 47 minutes from the bureau hall; 五间镇's centre is 24 km, 40 minutes.
    assert (v01["trips"], v01["km"], v01["hours"]) == (1, 27.0, 0.8)
    assert report["total"]["km"] == 27.0
