"""Inspections over the JSON API, on SQLite and PostgreSQL: inspect, rectify, verify; scoping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import Node
from tests.inspections.conftest import JPEG, PNG, body, inspect
from yibao.audit.models import AuditRecord

FAILS = {"equipment_camera": "高拍仪损坏无法使用", "network_backup": "无备用链路"}


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in r.json().get("errors", [])}


def test_inspection_to_tasks_to_fix_to_verification(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail=FAILS)
    # Weights sum to 28; the camera and the backup link weigh 1 each: 26/28 → 93.
    assert made["failed"] == 2 and made["passed"] == len(made["results"]) - 2
    assert made["score"] == 93
    assert made["area_scores"]["premises"] == 100 and made["area_scores"]["network"] == 80
    tasks = {t["item"]: t for t in made["tasks"]}
    assert set(tasks) == set(FAILS)
    camera = tasks["equipment_camera"]
    assert camera["state"] == "open" and camera["problem"] == "高拍仪损坏无法使用"
    assert camera["deadline"] == "2026-10-19"  # 10 working days over the National Day break
    assert camera["owner"] == "陈晓燕" and camera["light"] == "green"
    assert camera["allowed_actions"] == []  # the officer cannot report it fixed

    # The station master sees the task with the action to report it fixed.
    r = api("master_f01", "GET", "/api/v1/inspections/tasks?state=open")
    assert r.status_code == 200
    mine = {t["item"]: t for t in r.json()["items"]}
    assert set(mine) == set(FAILS)
    assert mine["equipment_camera"]["allowed_actions"] == ["report_fixed"]

    url = f"/api/v1/inspections/tasks/{camera['id']}"
    r = api("master_f01", "POST", url + "/actions", json={"action": "report_fixed", "version": 1})
    assert r.status_code == 422 and fields(r) == {"note"}
    r = api(
        "master_f01",
        "POST",
        url + "/actions",
        json={"action": "report_fixed", "version": 1, "note": "已更换新高拍仪"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "reported" and r.json()["reported_date"] == "2026-09-29"
    r = api(
        "master_f01", "POST", url + "/attachments", files={"file": ("新.png", PNG, "image/png")}
    )
    assert r.status_code == 201, r.text
    photo_url = r.json()["url"]
    assert api("officer", "GET", photo_url).content == PNG

    # A stale version loses; the bureau sends it back once, then verifies the second report.
    r = api("officer", "POST", url + "/actions", json={"action": "verify", "version": 1})
    assert r.status_code == 409
    r = api(
        "officer",
        "POST",
        url + "/actions",
        json={"action": "send_back", "version": 2, "note": "未接入电脑"},
    )
    assert r.status_code == 200 and r.json()["state"] == "open"
    r = api("officer", "POST", url + "/actions", json={"action": "verify", "version": 3})
    assert r.status_code == 422 and r.json()["allowed"] == ["report_fixed"]
    clean.clock.now += timedelta(days=1)
    api(
        "master_f01",
        "POST",
        url + "/actions",
        json={"action": "report_fixed", "version": 3, "note": "已接好"},
    )
    r = api("supervisor", "POST", url + "/actions", json={"action": "verify", "version": 4})
    assert r.status_code == 200, r.text
    done = api("master_f01", "GET", url).json()
    assert done["state"] == "verified" and done["closed_date"] == "2026-09-30"
    assert [e["action"] for e in done["events"]] == [
        "create",
        "report_fixed",
        "send_back",
        "report_fixed",
        "verify",
    ]
    assert done["light"] == "green" and len(done["photos"]) == 1
    r = api("master_f01", "POST", url + "/attachments", files={"file": ("x.png", PNG, "image/png")})
    assert r.status_code == 422 and fields(r) == {"file"}

    # The station's standing: latest score, one open item left.
    r = api("officer", "GET", "/api/v1/inspections/stations")
    row = next(s for s in r.json()["items"] if s["code"] == "F01")
    assert row["last_score"] == 93 and row["open_tasks"] == 1 and row["overdue_tasks"] == 0
    assert r.json()["total"] == len(r.json()["items"])
    with clean.runtime.db.session() as s:
        actions = set(s.scalars(select(AuditRecord.action)))
    assert {
        "inspection.create",
        "inspection.task.report_fixed",
        "inspection.task.send_back",
        "inspection.task.verify",
        "attachment.add",
    } <= actions


def test_overdue_after_the_deadline(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail={"staff_hours": "未按公示时间开门"})
    clean.clock.now += timedelta(days=21)  # 10/20: one working day past 10/19
    r = api("officer", "GET", "/api/v1/inspections/tasks?overdue=true")
    assert [t["id"] for t in r.json()["items"]] == [made["tasks"][0]["id"]]
    assert r.json()["items"][0]["light"] == "red" and r.json()["items"][0]["overdue"]
    row = next(
        s
        for s in api("officer", "GET", "/api/v1/inspections/stations").json()["items"]
        if s["code"] == "F01"
    )
    assert row["overdue_tasks"] == 1


def test_bad_input_names_the_field(api) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (body(fail={"premises_seats": ""}), "results[3].note"),
        (body(station="NOPE"), "station_code"),
        (body(station="BUREAU"), "station_code"),
        (body(date="2026-10-01"), "date"),
        (body(date="2025-01-01"), "date"),
        (body(date="yesterday"), "date"),
        (body(inspectors=[]), "inspectors"),
        (body(inspectors=["  "]), "inspectors"),
        (body(results=[]), "results"),
        (body(deadline_days=0), "deadline_days"),
        (body(deadline_days="x" * 3), "deadline_days"),
        (body(results=[{"item": "x" * 500, "passed": True}]), "results[0].item"),
        ({**body(), "extra": 1}, "extra"),
    ]
    for payload, field in cases:
        r = api("officer", "POST", "/api/v1/inspections", json=payload)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in fields(r), (field, r.json())
    r = api(
        "officer",
        "POST",
        "/api/v1/inspections",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    for url in (
        "/api/v1/inspections/not-a-uuid",
        "/api/v1/inspections/tasks/123",
        "/api/v1/inspections?cursor=garbage",
        "/api/v1/inspections/tasks?state=weird",
        "/api/v1/inspections/stations?kind=castle",
        "/api/v1/inspections?limit=0",
    ):
        assert api("officer", "GET", url).status_code == 422, url
    for url in (
        "/api/v1/inspections/00000000-0000-0000-0000-000000000000",
        "/api/v1/inspections?station=ZZZ",
        "/api/v1/inspections/stations/ZZZ/measures",
    ):
        assert api("officer", "GET", url).status_code == 404, url


def test_photos_are_jpeg_or_png_and_served_after_the_access_check(api) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail=FAILS)
    base = f"/api/v1/inspections/{made['id']}/items/equipment_camera/attachments"
    r = api("officer", "POST", base, files={"file": ("a.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    r = api("officer", "POST", base, files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert r.status_code == 422 and fields(r) == {"file"}
    r = api("officer", "POST", base, files={"file": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 422 and fields(r) == {"file"}
    assert api("officer", "POST", base).status_code == 422
    r = api(
        "officer",
        "POST",
        f"/api/v1/inspections/{made['id']}/items/nope/attachments",
        files={"file": ("a.jpg", JPEG, "image/jpeg")},
    )
    assert r.status_code == 404
    assert (
        api("master_f01", "POST", base, files={"file": ("a.jpg", JPEG, "image/jpeg")}).status_code
        == 403
    )
    got = api("officer", "GET", f"/api/v1/inspections/{made['id']}").json()
    camera = next(x for x in got["results"] if x["item"] == "equipment_camera")
    assert [p["url"] for p in camera["photos"]] == [url]
    assert api("clerk_f01", "GET", url).content == JPEG
    assert api("clerk_f02", "GET", url).status_code == 404
    assert api("officer", "GET", url.rsplit("/", 1)[0] + "/not-an-id").status_code == 404


def test_role_scoping(api) -> None:  # type: ignore[no-untyped-def]
    f01 = inspect(api, "F01", fail=FAILS)
    v01 = inspect(api, "V01", fail={"premises_access": "无坡道"})
    for user in ("officer", "supervisor"):
        ids = {i["id"] for i in api(user, "GET", "/api/v1/inspections").json()["items"]}
        assert {f01["id"], v01["id"]} <= ids
    for user, own, other in (
        ("master_f01", f01, v01),
        ("clerk_f01", f01, v01),
        ("clerk_v01", v01, f01),
    ):
        items = api(user, "GET", "/api/v1/inspections").json()["items"]
        assert [i["id"] for i in items] == [own["id"]]
        assert api(user, "GET", f"/api/v1/inspections/{other['id']}").status_code == 404
        assert (
            api(user, "GET", f"/api/v1/inspections/tasks/{other['tasks'][0]['id']}").status_code
            == 404
        )
        stations = api(user, "GET", "/api/v1/inspections/stations").json()["items"]
        assert [s["code"] for s in stations] == [own["station_code"]]
    for user in ("auditor", "admin"):
        for url in (
            "/api/v1/inspections",
            "/api/v1/inspections/checklist",
            f"/api/v1/inspections/{f01['id']}",
            "/api/v1/inspections/tasks",
            "/api/v1/inspections/stations",
        ):
            assert api(user, "GET", url).status_code == 403, (user, url)
    for user in ("master_f01", "clerk_f01", "auditor", "admin"):
        assert api(user, "POST", "/api/v1/inspections", json=body()).status_code == 403
    # A clerk reads the station's tasks but may not report one fixed.
    task = f01["tasks"][0]
    r = api(
        "clerk_f01",
        "POST",
        f"/api/v1/inspections/tasks/{task['id']}/actions",
        json={"action": "report_fixed", "version": 1, "note": "x"},
    )
    assert r.status_code == 403


def test_lists_are_paged(api) -> None:  # type: ignore[no-untyped-def]
    made = [inspect(api, s) for s in ("F01", "F02", "T01")]
    seen: list[str] = []
    url = "/api/v1/inspections?limit=2"
    while url:
        page = api("supervisor", "GET", url).json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        url = (
            f"/api/v1/inspections?limit=2&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert sorted(seen) == sorted(m["id"] for m in made)
    r = api("supervisor", "GET", "/api/v1/inspections/stations?limit=2&offset=2")
    assert len(r.json()["items"]) == 2 and r.json()["total"] > 4


def test_station_measures_reuse_the_dashboard_counts(api, client) -> None:  # type: ignore[no-untyped-def]
    from tests.api.helpers import intake_body

    r = api("clerk_f01", "POST", "/api/v1/cases", json=intake_body(station_code="F01"))
    assert r.status_code == 201, r.text
    got = api("master_f01", "GET", "/api/v1/inspections/stations/F01/measures").json()
    assert [p["intake"] for p in got["periods"]] == [1, 1]
    assert api("master_f01", "GET", "/api/v1/inspections/stations/F02/measures").status_code == 404
