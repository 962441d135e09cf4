"""The queue tells a clerk and a station master about station work waiting for them."""

from __future__ import annotations

from datetime import date, timedelta

from tests.api.helpers import intake_body
from tests.conftest import Node


def _finished_case(client, login) -> str:  # type: ignore[no-untyped-def]
    h = login("clerk_f01")
    made = client.post("/api/v1/cases", json=intake_body(), headers=h).json()
    r = client.post(
        f"/api/v1/cases/{made['case_no']}/actions",
        json={"action": "complete", "version": made["version"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    return str(made["case_no"])


def test_a_bad_rating_shows_on_the_handlers_queue(browser, client, login, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    assert "差评待整改" not in clerk.get("/queue").text
    case_no = _finished_case(client, login)
    tail = client.get(f"/api/v1/cases/{case_no}", headers=login("clerk_f01")).json()["applicant"][
        "id_number"
    ][-4:]
    r = client.post(
        f"/public/cases/{case_no}/rating",
        json={"id_tail": tail, "overall": 1, "efficiency": 1, "service_level": 2, "attitude": 1},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 201, r.text
    page = clerk.get("/queue").text
    assert "1 条差评待整改" in page and 'href="/ratings"' in page
    # Another clerk of another station has nothing waiting.
    assert "差评待整改" not in browser("clerk_f02").get("/queue").text
    # Past the due date (5 working days) the notice says it is overdue.
    clean.clock.now += timedelta(days=14)
    # (signed in afresh: two weeks is past the idle timeout of the first session)
    assert "已超期" in browser("clerk_f01").get("/queue").text


def test_open_four_in_place_items_show_on_the_masters_queue(
    client, login, browser, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    master = browser("master_f01")
    assert "四到位问题待整改" not in master.get("/queue").text
    checklist = client.get("/api/v1/inspections/checklist", headers=login("officer")).json()
    items = [i["code"] for a in checklist["areas"] for i in a["items"]]
    body = {
        "station_code": "F01",
        "date": str(date(2026, 9, 28)),
        "inspectors": ["张伟"],
        "results": [
            {"item": code, "passed": k != 0, **({"note": "打印机缺墨"} if k == 0 else {})}
            for k, code in enumerate(items)
        ],
    }
    r = client.post("/api/v1/inspections", json=body, headers=login("officer"))
    assert r.status_code == 201, r.text
    page = master.get("/queue").text
    assert "1 项四到位问题待整改" in page and 'href="/inspections/station"' in page
    # A clerk is not the one to fix the station's premises.
    assert "四到位问题待整改" not in browser("clerk_f01").get("/queue").text
