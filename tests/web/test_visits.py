"""Mobile visits: itineraries, the planner, backlogs, citizens' next visit and trips saved."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit.models import AuditRecord
from yibao.cases.models import Case
from yibao.visits import planning
from yibao.visits.models import Visit

TODAY = date(2026, 9, 29)  # Tuesday; 10/1-10/7 off, Sat 10/10 worked
AFTER_HOLIDAY = date(2026, 10, 9)  # Friday
JSON = {"Accept": "application/json"}


@pytest.fixture
def vnode(clean: Node) -> Node:
    """The clean node without visits either."""
    with clean.runtime.db.uow() as uow:
        uow.session.execute(text("DELETE FROM visit_events"))
        uow.session.execute(text("DELETE FROM visits"))
        uow.commit()
    return clean


@pytest.fixture
def api(client: TestClient, login, vnode: Node):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


def plan(api, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"station_code": "M01", "village": "青峰村", "date": TODAY.isoformat(), **over}
    r = api("supervisor", "POST", "/api/v1/visits", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def take(api, user: str = "clerk_m01", **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = intake_body(**{"station_code": "M01", "channel": "mobile", **over})
    r = api(user, "POST", "/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    out["id_tail"] = body["applicant"]["id_number"][-4:]
    return out


def act(api, user: str, case: dict[str, Any], action: str, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api(
        user,
        "POST",
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": action, "version": case["version"], **extra},
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    out["id_tail"] = case.get("id_tail")
    return out


def pending(api, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A change of details at M01 missing its proof: waiting for materials."""
    case = take(api, service_code="insured_details_change", materials=["id_card"], **over)
    return act(api, "clerk_m01", case, "request_materials", missing_materials=["change_proof"])


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in r.json()["errors"]}


# ---------------------------------------------------------------- itineraries (API)


def test_supervisor_plans_visits_with_default_windows_and_a_log(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    first = plan(api, team=["clerk_m01"])
    assert first["station_name"] == "青峰镇流动医保服务站"
    assert (first["town_code"], first["town_name"]) == ("500118100", "青峰镇")
    assert (first["start"], first["end"], first["state"]) == ("09:00", "12:00", "planned")
    assert first["team"] == ["clerk_m01"] and first["working_day"] is True
    second = plan(api, village="石笋村")
    assert (second["start"], second["end"]) == ("13:30", "16:30")
    own = plan(api, village="龙凤村", date=AFTER_HOLIDAY.isoformat(), start="14:00", end="15:30")
    assert (own["start"], own["end"]) == ("14:00", "15:30")

    r = api("supervisor", "GET", f"/api/v1/visits/{first['id']}")
    assert r.status_code == 200
    assert [e["action"] for e in r.json()["events"]] == ["plan"]
    with vnode.runtime.db.session() as s:
        actions = s.scalars(select(AuditRecord.action).where(AuditRecord.object_type == "visit"))
        assert sorted(actions) == ["visit.plan"] * 3


def test_bad_visits_name_every_field(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    r = api(
        "supervisor",
        "POST",
        "/api/v1/visits",
        json={
            "station_code": "M01",
            "village": "不存在村",
            "date": "2026-09-28",
            "start": "12:00",
            "end": "09:00",
            "team": ["clerk_f01", "nobody"],
        },
    )
    assert fields(r) == {"village", "date", "end", "team[0]", "team[1]"}
    zh = {e["field"]: e["message_zh"] for e in r.json()["errors"]}
    assert zh["village"] == "不是该流动服务站服务的村" and zh["date"] == "日期不能早于今天"
    assert fields(
        api(
            "supervisor",
            "POST",
            "/api/v1/visits",
            json={"station_code": "F01", "village": "青峰村", "date": "2026-10-09"},
        )
    ) == {"station_code"}
    assert fields(
        api(
            "supervisor",
            "POST",
            "/api/v1/visits",
            json={"station_code": "X99", "village": "青峰村", "date": "2026-10-09"},
        )
    ) == {"station_code"}
    assert fields(
        api(
            "supervisor",
            "POST",
            "/api/v1/visits",
            json={"station_code": "M01", "village": "青峰村", "date": "2026-13-01"},
        )
    ) == {"date"}
    assert fields(
        api(
            "supervisor",
            "POST",
            "/api/v1/visits",
            json={
                "station_code": "M01",
                "village": "青峰村",
                "date": "2026-10-09",
                "start": "09:00",
            },
        )
    ) == {"end"}
    plan(api)
    r = api(
        "supervisor",
        "POST",
        "/api/v1/visits",
        json={"station_code": "M01", "village": "青峰村", "date": TODAY.isoformat()},
    )
    assert fields(r) == {"date"}  # the same village twice a day


def test_who_sees_and_who_plans(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    m01 = plan(api)
    plan(api, station_code="M02", village="金龙村")
    for user in ("clerk_m01", "officer", "clerk_f01", "master_f01"):
        r = api(
            user,
            "POST",
            "/api/v1/visits",
            json={"station_code": "M01", "village": "石笋村", "date": "2026-10-09"},
        )
        assert r.status_code == 403, user
    seen = {
        u: {v["station_code"] for v in api(u, "GET", "/api/v1/visits").json()["items"]}
        for u in ("supervisor", "officer", "clerk_m01", "clerk_f01")
    }
    assert seen == {
        "supervisor": {"M01", "M02"},
        "officer": {"M01", "M02"},
        "clerk_m01": {"M01"},
        "clerk_f01": set(),
    }
    for user in ("auditor", "admin"):
        assert api(user, "GET", "/api/v1/visits").status_code == 403
        assert api(user, "GET", f"/api/v1/visits/{m01['id']}").status_code == 403
    assert api("clerk_f01", "GET", f"/api/v1/visits/{m01['id']}").status_code == 404
    assert api("supervisor", "GET", "/api/v1/visits").status_code == 200
    # Not a visit id: no route matches (the path takes a UUID), the same 404 as an unknown one.
    assert api("supervisor", "GET", "/api/v1/visits/not-a-uuid").status_code == 404


def test_change_and_cancel_need_a_reason_and_the_current_version(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    v = plan(api, date=AFTER_HOLIDAY.isoformat())
    url = f"/api/v1/visits/{v['id']}"
    assert fields(
        api("supervisor", "POST", f"{url}/change", json={"version": 1, "date": "2026-10-12"})
    ) == {"reason"}
    assert fields(
        api("supervisor", "POST", f"{url}/change", json={"version": 1, "reason": "x"})
    ) == {"body"}
    assert fields(
        api(
            "supervisor",
            "POST",
            f"{url}/change",
            json={"version": 1, "reason": "雨天", "date": "2026-09-01", "village": "外村"},
        )
    ) == {"date", "village"}
    r = api(
        "supervisor",
        "POST",
        f"{url}/change",
        json={"version": 1, "reason": "村里赶场改期", "date": "2026-10-12", "team": ["clerk_m01"]},
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (moved["date"], moved["version"], moved["reason"], moved["team"]) == (
        "2026-10-12",
        2,
        "村里赶场改期",
        ["clerk_m01"],
    )
    stale = api("supervisor", "POST", f"{url}/cancel", json={"version": 1, "reason": "x"})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert fields(
        api("supervisor", "POST", f"{url}/cancel", json={"version": 2, "reason": "  "})
    ) == {"reason"}
    assert (
        api("clerk_m01", "POST", f"{url}/cancel", json={"version": 2, "reason": "x"}).status_code
        == 403
    )
    r = api("supervisor", "POST", f"{url}/cancel", json={"version": 2, "reason": "道路塌方"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert fields(
        api(
            "supervisor",
            "POST",
            f"{url}/change",
            json={"version": 3, "reason": "x", "date": "2026-10-13"},
        )
    ) == {"state"}
    events = api("officer", "GET", f"{url}/events").json()
    assert [(e["action"], e["reason"]) for e in events] == [
        ("plan", None),
        ("change", "村里赶场改期"),
        ("cancel", "道路塌方"),
    ]
    assert events[1]["detail"]["date"] == [AFTER_HOLIDAY.isoformat(), "2026-10-12"]
    assert events[1]["detail"]["team"] == [[], ["clerk_m01"]]


def test_the_team_reports_a_visit_done(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    today = plan(api)
    later = plan(api, date=AFTER_HOLIDAY.isoformat())
    assert fields(
        api("clerk_m01", "POST", f"/api/v1/visits/{later['id']}/done", json={"version": 1})
    ) == {"date"}
    assert (
        api(
            "clerk_f01", "POST", f"/api/v1/visits/{today['id']}/done", json={"version": 1}
        ).status_code
        == 404
    )
    assert (
        api(
            "officer", "POST", f"/api/v1/visits/{today['id']}/done", json={"version": 1}
        ).status_code
        == 403
    )
    r = api("clerk_m01", "POST", f"/api/v1/visits/{today['id']}/done", json={"version": 1})
    assert r.status_code == 200 and r.json()["state"] == "done"


def test_list_filters(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    plan(api)
    plan(api, village="石笋村", date=AFTER_HOLIDAY.isoformat())
    plan(api, station_code="M16", village="涨谷村", date=AFTER_HOLIDAY.isoformat())

    def villages(query: str) -> list[str]:
        r = api("officer", "GET", f"/api/v1/visits?{query}")
        assert r.status_code == 200, r.text
        return [v["village"] for v in r.json()["items"]]

    assert villages("") == ["青峰村", "石笋村", "涨谷村"]
    assert villages("station=M16") == ["涨谷村"]
    assert villages("town=500118100") == ["青峰村", "石笋村"]
    assert villages("village=石笋村") == ["石笋村"]
    assert villages("date_from=2026-10-01&date_to=2026-10-31") == ["石笋村", "涨谷村"]
    r = api(
        "officer",
        "GET",
        "/api/v1/visits?village=不存在村&town=1&station=X9&state=gone"
        "&date_from=2026-10-31&date_to=2026-10-01",
    )
    assert fields(r) == {"village", "town", "station", "state", "date_to"}


# ---------------------------------------------------------------- cases linked to visits


def test_intake_links_a_visit_of_the_station_on_the_capture_date(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    today = plan(api)
    later = plan(api, date=AFTER_HOLIDAY.isoformat())
    other = plan(api, station_code="M02", village="金龙村")
    case = take(api, visit_id=today["id"])
    with vnode.runtime.db.session() as s:
        stored = s.scalar(select(Case).where(Case.case_no == case["case_no"]))
        assert stored is not None and str(stored.visit_id) == today["id"]
    for wrong in (later["id"], other["id"], "6f1c1f3e-0000-4000-8000-000000000000"):
        r = api(
            "clerk_m01",
            "POST",
            "/api/v1/cases",
            json=intake_body(station_code="M01", visit_id=wrong),
        )
        assert fields(r) == {"visit_id"}
        assert r.json()["errors"][0]["message_zh"] == "不是本服务站在受理当天的到访"
    # Captured offline yesterday: yesterday's visit, not today's.
    r = api(
        "clerk_m01",
        "POST",
        "/api/v1/cases",
        json=intake_body(
            station_code="M01", visit_id=today["id"], captured_at="2026-09-28T10:00:00+08:00"
        ),
    )
    assert fields(r) == {"visit_id"}
    api(
        "supervisor",
        "POST",
        f"/api/v1/visits/{today['id']}/cancel",
        json={"version": 1, "reason": "停电"},
    )
    r = api(
        "clerk_m01",
        "POST",
        "/api/v1/cases",
        json=intake_body(station_code="M01", visit_id=today["id"]),
    )
    assert fields(r) == {"visit_id"}
    taken = api("officer", "GET", f"/api/v1/visits/{today['id']}").json()
    assert taken["state"] == "cancelled"


def test_backlog_waits_for_the_next_visits_of_the_village(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    today = plan(api)  # 青峰村 09:00-12:00
    other = plan(api, village="石笋村", date="2026-10-08")
    later = plan(api, date=AFTER_HOLIDAY.isoformat())
    linked = pending(api, visit_id=today["id"])
    loose = pending(api)  # taken at 10:00 today, during the visit to 青峰村
    unplaced = pending(api, captured_at="2026-09-28T10:00:00+08:00")  # no visit that day
    take(api, visit_id=today["id"])  # not waiting for anything

    r = api("officer", "GET", "/api/v1/visits/backlog")
    assert r.status_code == 200, r.text
    rows = {(v["village"], v["date"]): sorted(c["case_no"] for c in v["backlog"]) for v in r.json()}
    assert rows == {
        ("青峰村", TODAY.isoformat()): sorted(
            [linked["case_no"], loose["case_no"], unplaced["case_no"]]
        ),
        ("石笋村", "2026-10-08"): [],
        ("青峰村", AFTER_HOLIDAY.isoformat()): sorted([linked["case_no"], loose["case_no"]]),
    }
    first = r.json()[0]["backlog"][0]
    assert "*" in first["applicant"]["id_number"]
    assert {v["id"] for v in r.json()} == {today["id"], other["id"], later["id"]}
    assert [
        v["village"] for v in api("clerk_m01", "GET", "/api/v1/visits/backlog?days=1").json()
    ] == ["青峰村"]
    assert api("clerk_f01", "GET", "/api/v1/visits/backlog").json() == []
    # Past demand (the planner's weights): linked and same-day cases count for 青峰村; a day
    # without a visit is shared among the station's four villages.
    with vnode.runtime.db.session() as session:
        demand = planning.demand(
            session, runtime=vnode.runtime, since=TODAY - timedelta(days=89), until=TODAY
        )
    assert demand == {
        ("500118100", "青峰村"): 3.25,
        ("500118100", "石笋村"): 0.25,
        ("500118100", "龙凤村"): 0.25,
        ("500118100", "高峰村"): 0.25,
    }
    assert api("auditor", "GET", "/api/v1/visits/backlog").status_code == 403
    assert fields(api("officer", "GET", "/api/v1/visits/backlog?days=0")) == {"days"}


def test_villages_not_visited_for_30_days(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    r = api("officer", "GET", "/api/v1/visits/stale-villages")
    assert r.status_code == 200
    never = {(s["town_name"], s["village"]) for s in r.json()}
    assert ("青峰镇", "青峰村") in never and ("朱沱镇", "涨谷村") in never
    assert ("五间镇", "新建村") not in never  # served by its village station, not a mobile team
    assert len(never) == 66
    today = plan(api)
    plan(api, village="石笋村", date=AFTER_HOLIDAY.isoformat())
    stale = {s["village"]: s for s in api("officer", "GET", "/api/v1/visits/stale-villages").json()}
    # Planned for today is not visited: the village stays, with today as its next visit.
    assert stale["青峰村"]["next_visit"] == TODAY.isoformat()
    r = api("clerk_m01", "POST", f"/api/v1/visits/{today['id']}/done", json={"version": 1})
    assert r.status_code == 200, r.text
    stale = {s["village"]: s for s in api("officer", "GET", "/api/v1/visits/stale-villages").json()}
    assert "青峰村" not in stale
    assert (
        stale["石笋村"]["last_visit"] is None
        and stale["石笋村"]["next_visit"] == AFTER_HOLIDAY.isoformat()
    )
    own = api("clerk_m01", "GET", "/api/v1/visits/stale-villages").json()
    assert {s["village"] for s in own} == {"石笋村", "龙凤村", "高峰村"}
    assert fields(api("officer", "GET", "/api/v1/visits/stale-villages?days=0")) == {"days"}


# ---------------------------------------------------------------- citizens


def test_public_next_visits_of_a_village(client: TestClient, api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    plan(api, team=["clerk_m01"])
    later = plan(api, date=AFTER_HOLIDAY.isoformat())
    gone = plan(api, date="2026-10-12")
    api(
        "supervisor",
        "POST",
        f"/api/v1/visits/{gone['id']}/cancel",
        json={"version": 1, "reason": "x"},
    )
    r = client.get("/public/visits", params={"village": "青峰村"}, headers=JSON)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(v["date"], v["start"], v["end"]) for v in items] == [
        (TODAY.isoformat(), "09:00", "12:00"),
        (AFTER_HOLIDAY.isoformat(), "09:00", "12:00"),
    ]
    assert items[1]["weekday"] == "周五" and items[1]["station_name"] == "青峰镇流动医保服务站"
    assert "team" not in items[0]
    r = client.get("/public/visits", params={"village": "不存在村"}, headers=JSON)
    assert fields(r) == {"village"}
    assert fields(client.get("/public/visits", headers=JSON)) == {"village"}
    page = client.get("/public/visits", params={"village": "青峰村"})
    assert page.status_code == 200 and "流动医保服务站到村时间" in page.text
    assert later["date"] in page.text and "<option selected>青峰村</option>" in page.text
    empty = client.get("/public/visits", params={"village": "高峰村"})
    assert "近期暂无流动服务站到访安排" in empty.text
    assert client.get("/public/visits", params={"village": "x"}).status_code == 422
    assert "选择您所在的村" in client.get("/public/visits").text


def test_citizen_page_and_receipt_show_the_next_chance(
    client: TestClient, api, browser, vnode: Node
) -> None:  # type: ignore[no-untyped-def]
    today = plan(api)
    plan(api, village="石笋村", date="2026-10-08")
    plan(api, date=AFTER_HOLIDAY.isoformat(), start="13:00", end="16:00")
    case = pending(api, visit_id=today["id"])
    r = client.get(
        f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]}, headers=JSON
    )
    assert r.status_code == 200, r.text
    nv = r.json()["next_visit"]
    assert (nv["date"], nv["start"], nv["village"], nv["same_village"]) == (
        AFTER_HOLIDAY.isoformat(),
        "13:00",
        "青峰村",
        True,
    )
    page = client.get(f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]})
    assert "下次补交材料的机会" in page.text and "2026-10-09（周五）13:00–16:00" in page.text

    receipt = browser("clerk_m01").get(f"/cases/{case['case_no']}/receipt")
    assert receipt.status_code == 200
    assert "补交机会" in receipt.text and "2026-10-09（周五）" in receipt.text
    pdf = browser("clerk_m01").get(f"/cases/{case['case_no']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # A case not waiting, or waiting elsewhere, has no next visit.
    done = take(api)
    r = client.get(
        f"/public/cases/{done['case_no']}", params={"id_tail": done["id_tail"]}, headers=JSON
    )
    assert r.json()["next_visit"] is None


# ---------------------------------------------------------------- trips saved


def test_trips_saved_by_station_town_and_month(api, browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    visit = plan(api)
    on_visit = take(api, visit_id=visit["id"])
    act(api, "clerk_m01", on_visit, "complete")  # 青峰村: 20 km, 35 min
    at_f01 = take(api, "clerk_f01", station_code="F01", channel="window")
    act(api, "clerk_f01", at_f01, "complete")  # 胜利路街道: 2.5 km, 10 min
    slow = take(
        api,
        "clerk_f01",
        station_code="F01",
        channel="window",
        service_code="insured_details_change",
        materials=["id_card"],
    )
    slow = act(api, "clerk_f01", slow, "request_materials", missing_materials=["change_proof"])
    slow = act(api, "clerk_f01", slow, "supplement")
    act(api, "clerk_f01", slow, "complete")
    forwarded = take(
        api,
        "clerk_f01",
        station_code="F01",
        channel="window",
        service_code="outpatient_reimbursement",
    )
    act(api, "clerk_f01", forwarded, "forward", to_unit="bureau")
    pending(api)

    r = api("supervisor", "GET", "/api/v1/reports/trips-saved")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["total"] == {
        "completed": 3,
        "one_visit": 2,
        "one_visit_rate": 0.6667,
        "trips": 3,
        "km": 25.0,
        "hours": 0.9,
        "unknown_distance": 0,
    }
    assert report["approximate"] is True and report["legs_per_trip"] == 1
    towns = {t["name"]: (t["trips"], t["km"]) for t in report["by_town"]}
    assert towns == {"青峰镇": (1, 20.0), "胜利路街道": (2, 5.0)}
    assert [(m["month"], m["trips"]) for m in report["by_month"]] == [
        ("2026-08", 0),
        ("2026-09", 3),
    ]
    stations = {s["code"]: s for s in report["by_station"]}
    assert len(stations) == 23 and stations["BUREAU"]["trips"] == 0
    assert (stations["M01"]["trips"], stations["M01"]["km"]) == (1, 20.0)
    assert (stations["F01"]["completed"], stations["F01"]["one_visit"]) == (2, 1)

    mine = api("clerk_f01", "GET", "/api/v1/reports/trips-saved").json()
    assert [s["code"] for s in mine["by_station"]] == ["F01"] and mine["total"]["trips"] == 2
    mobile = api(
        "officer", "GET", "/api/v1/reports/trips-saved?kind=mobile&from=2026-09-29&to=2026-09-29"
    ).json()
    assert mobile["total"]["trips"] == 1 and [m["month"] for m in mobile["by_month"]] == ["2026-09"]
    assert api("auditor", "GET", "/api/v1/reports/trips-saved").status_code == 403
    assert fields(
        api("officer", "GET", "/api/v1/reports/trips-saved?from=2026-02-30&kind=boat")
    ) == {"from"}
    assert fields(api("officer", "GET", "/api/v1/reports/trips-saved?kind=boat")) == {"kind"}

    html = browser("supervisor").get("/overview/trips").text
    assert 'id="trips"' in html and "少跑路" in html
    assert re.search(r'id="card-trips">\s*3\s*<', html) and re.search(
        r'id="card-km">\s*25\s*<', html
    )
    assert "66.7%" in html and 'id="chart-trips"' in html


# ---------------------------------------------------------------- the planner (API)


def test_planner_covers_every_village_and_confirms_all_or_nothing(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    booked = plan(api, date="2026-10-08")
    r = api(
        "supervisor",
        "POST",
        "/api/v1/visits/plan",
        json={"date_from": "2026-10-08", "date_to": "2026-11-06"},
    )
    assert r.status_code == 200, r.text
    proposal = r.json()
    visits = proposal["visits"]
    assert proposal["gaps"] == [] and proposal["estimated"] is False
    covered = {(v["town_code"], v["village"]) for v in visits} | {(booked["town_code"], "青峰村")}
    assert len(covered) == 66
    assert not any(v["date"] == "2026-10-08" and v["village"] == "青峰村" for v in visits)
    calendar = vnode.runtime.reference().calendar
    assert all(calendar.is_working_day(date.fromisoformat(v["date"])) for v in visits)
    per_day: dict[tuple[str, str], int] = {}
    for v in [*visits, {"station_code": "M01", "date": "2026-10-08"}]:
        key = (v["station_code"], v["date"])
        per_day[key] = per_day.get(key, 0) + 1
    assert max(per_day.values()) <= 2
    assert (
        api(
            "supervisor",
            "POST",
            "/api/v1/visits/plan",
            json={"date_from": "2026-10-08", "date_to": "2026-11-06"},
        ).json()
        == proposal
    )

    rows = [
        {"station_code": v["station_code"], "village": v["village"], "date": v["date"]}
        for v in visits[:4]
    ]
    bad = [rows[0], {**rows[1], "date": "2026-09-01"}, {**rows[2], "village": "外村"}]
    r = api("supervisor", "POST", "/api/v1/visits/plan/confirm", json={"visits": bad})
    assert fields(r) == {"visits[1].date", "visits[2].village"}
    dup = api(
        "supervisor", "POST", "/api/v1/visits/plan/confirm", json={"visits": [rows[0], rows[0]]}
    )
    assert fields(dup) == {"visits[1].date"}
    with vnode.runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == 1
    made = api("supervisor", "POST", "/api/v1/visits/plan/confirm", json={"visits": rows})
    assert made.status_code == 201, made.text
    assert [(v["village"], v["date"]) for v in made.json()["items"]] == [
        (x["village"], x["date"]) for x in rows
    ]

    assert (
        api(
            "officer",
            "POST",
            "/api/v1/visits/plan",
            json={"date_from": "2026-10-08", "date_to": "2026-10-09"},
        ).status_code
        == 403
    )
    r = api(
        "supervisor",
        "POST",
        "/api/v1/visits/plan",
        json={"date_from": "2026-09-01", "date_to": "2027-09-01", "capacity": 0},
    )
    assert fields(r) == {"capacity"}
    r = api(
        "supervisor",
        "POST",
        "/api/v1/visits/plan",
        json={"date_from": "2026-09-01", "date_to": "2027-09-01"},
    )
    assert fields(r) == {"date_from", "date_to"}


# ---------------------------------------------------------------- pages


def week_table(html: str) -> str:
    found = re.search(r'<table class="data week" id="week">.*?</table>', html, re.S)
    assert found, "no week table"
    return found.group(0)


def test_visits_page_by_week_and_by_town(api, browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    today = plan(api)
    plan(api, station_code="M02", village="金龙村")
    pending(api, visit_id=today["id"])
    b = browser("supervisor")
    r = b.get("/visits")
    assert r.status_code == 200, r.text
    assert "流动服务" in r.text and 'id="week"' in r.text and "休息日" in r.text
    assert "青峰村" in r.text and "金龙村" in r.text
    assert "超过 30 天未到访的村" in r.text and "等待近期到访的待补正办件" in r.text
    assert 'href="/visits/plan"' in r.text
    towns = b.get("/visits?view=towns")
    assert (
        towns.status_code == 200
        and 'id="town-500118100"' in towns.text
        and "从未到访" in towns.text
    )
    nxt = b.get("/visits?week=2026-10-05").text
    assert "2026-10-05" in nxt and "金龙村" not in week_table(nxt)
    assert "金龙村" in week_table(r.text)
    assert b.get("/visits?week=someday").status_code == 422
    assert b.get("/visits?station=X99").status_code == 422

    b.client.cookies.set("lang", "en")
    english = b.get("/visits").text
    assert "Mobile visits" in english and "Villages not visited for 30 days" in english
    b.client.cookies.set("lang", "zh_CN")
    mine = browser("clerk_m01").get("/visits")
    assert mine.status_code == 200 and "青峰村" in mine.text and "金龙村" not in mine.text
    assert 'href="/visits/plan"' not in mine.text
    for user in ("auditor", "admin"):
        assert browser(user).get("/visits").status_code == 403
    assert browser("clerk_m01").get("/visits/plan").status_code == 403
    assert browser("officer").get("/visits/new").status_code == 403


def test_plan_change_and_cancel_a_visit_on_the_pages(api, browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    b = browser("supervisor")
    assert b.get("/visits/new").status_code == 200
    r = b.post("/visits/new", data={"place": "M01|不存在村", "date": "2026-09-01"})
    assert r.status_code == 422
    assert "不是该流动服务站服务的村" in r.text and "日期不能早于今天" in r.text
    r = b.post(
        "/visits/new",
        data={"place": "M01|石笋村", "date": AFTER_HOLIDAY.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("?")[0]
    page = b.get(url)
    assert (
        page.status_code == 200 and "石笋村" in page.text and "clerk_m01" in page.text
    )  # default team

    r = b.post(f"{url}/change", data={"version": "1", "date": "2026-10-12", "reason": ""})
    assert r.status_code == 422 and "请填写原因" in r.text
    r = b.post(
        f"{url}/change",
        data={
            "version": "1",
            "date": "2026-10-12",
            "start": "09:00",
            "end": "12:00",
            "village": "石笋村",
            "team": "clerk_m01",
            "reason": "与赶场日错开",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = b.get(url).text
    assert "2026-10-12" in page and "与赶场日错开" in page and "已调整" in page
    stale = b.post(f"{url}/cancel", data={"version": "1", "reason": "x"})
    assert stale.status_code == 409 and "他人已修改" in stale.text
    r = b.post(f"{url}/cancel", data={"version": "2", "reason": "车辆维修"}, follow_redirects=False)
    assert r.status_code == 303
    page = b.get(url).text
    assert "已取消" in page and "车辆维修" in page and "取消到访</button>" not in page
    assert browser("clerk_f01").get(url).status_code == 404

    today = plan(api)
    clerk = browser("clerk_m01")
    r = clerk.post(f"/visits/{today['id']}/done", data={"version": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert "已到访" in clerk.get(f"/visits/{today['id']}").text


def test_planner_page_proposes_checks_and_confirms(browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    b = browser("supervisor")
    blank = b.get("/visits/plan")
    assert blank.status_code == 200 and 'id="proposal"' not in blank.text
    r = b.get("/visits/plan?from=2026-10-08&to=2026-11-06&interval=30&capacity=2")
    assert r.status_code == 200, r.text
    assert 'id="proposal"' in r.text and 'id="check-ok"' in r.text
    rows = re.findall(r'name="r(\d+)" value="([^"]+)"', r.text)
    dates = dict(re.findall(r'name="d(\d+)" value="([^"]+)"', r.text))
    assert len(rows) >= 66
    form: dict[str, str] = {
        "from": "2026-10-08",
        "to": "2026-11-06",
        "interval": "30",
        "capacity": "2",
        "count": str(len(rows)),
    }
    for i, place in rows:
        form[f"r{i}"] = place
        form[f"d{i}"] = dates[i]
        form[f"k{i}"] = "1"
    moved = {**form, "d0": "2026-10-17", "action": "check"}  # a Saturday off
    del moved["k1"]
    r = b.post("/visits/plan", data=moved)
    assert r.status_code == 200, r.text
    assert "安排在休息日的到访" in r.text and "以下村将超过 30 天无到访" in r.text
    assert (
        b.post("/visits/plan", data={**form, "d2": "2026-09-01", "action": "confirm"}).status_code
        == 422
    )
    with vnode.runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == 0
    keep = {k: v for k, v in form.items() if not k.startswith("k") or k in ("k0", "k1")}
    r = b.post("/visits/plan", data={**keep, "action": "confirm"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with vnode.runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == 2
    assert b.get("/visits/plan?from=2026-09-01").status_code == 422
    assert b.get("/visits/plan?from=2026-10-08&to=2026-10-01&interval=x").status_code == 422


def test_a_mobile_case_joins_the_visit_under_way(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    visit = plan(api)  # today, the default day-time window; the clock says 10:00
    case = take(api)
    assert case["visit_id"] == visit["id"]
    other_day = take(api, captured_at="2026-09-28T10:00:00+08:00")
    assert other_day["visit_id"] is None
