"""Odd input never makes a 500: every endpoint answers with a clear 4xx."""

from __future__ import annotations

from tests.inspections.conftest import body, inspect

ODD = ["", " ", "x" * 5000, "../../etc", "０１", "null", "-1", "1e9", "🙂", "F01' OR 1=1 --"]


def test_api_never_fails_with_a_500(api) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail={"equipment_camera": "坏了"})
    task = made["tasks"][0]["id"]
    payloads = [
        body(inspectors=[1, 2]),
        body(inspectors="王"),
        body(results=[{"item": "premises_fixed", "passed": "maybe"}]),
        body(results="all"),
        body(date="9999-12-31"),
        body(date="0001-01-01"),
        body(deadline_days=10**12),
        body(note="x" * 5000),
        body(station="f01"),
        [],
        "text",
        None,
    ]
    for p in payloads:
        r = api("supervisor", "POST", "/api/v1/inspections", json=p)
        assert r.status_code in (201, 422), (p, r.status_code, r.text[:200])
    for p in (
        {"action": "explode", "version": 1},
        {"action": "verify", "version": "x"},
        {"action": "verify", "version": -1},
        {"action": "report_fixed", "version": 1, "note": "x" * 5000},
        {"action": "report_fixed"},
        {},
        [],
    ):
        r = api("master_f01", "POST", f"/api/v1/inspections/tasks/{task}/actions", json=p)
        assert r.status_code == 422, (p, r.text[:200])
    for odd in ODD:
        for url in (
            f"/api/v1/inspections?station={odd}",
            f"/api/v1/inspections?cursor={odd}",
            f"/api/v1/inspections/tasks?state={odd}&overdue={odd}",
            f"/api/v1/inspections/stations?kind={odd}&offset={odd}",
            f"/api/v1/inspections/{odd}",
            f"/api/v1/inspections/tasks/{odd}",
            f"/api/v1/inspections/stations/{odd}/measures",
            f"/api/v1/inspections/{made['id']}/items/{odd}/attachments/{odd}",
            f"/api/v1/inspections/tasks/{task}/attachments/{odd}",
        ):
            r = api("officer", "GET", url)
            assert r.status_code < 500, (url, r.status_code)
    # A cursor of the other list is refused, not trusted.
    page = api("officer", "GET", "/api/v1/inspections/tasks?limit=1").json()
    inspect(api, "F02", fail={"staff_hours": "迟开门"})
    page = api("officer", "GET", "/api/v1/inspections/tasks?limit=1").json()
    assert page["next_cursor"]
    r = api("officer", "GET", f"/api/v1/inspections?cursor={page['next_cursor']}")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"


def test_pages_never_fail_with_a_500(browser, api) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail={"equipment_camera": "坏了"})
    task = made["tasks"][0]["id"]
    officer = browser("officer")
    master = browser("master_f01")
    for odd in ODD:
        for url in (
            f"/inspections?kind={odd}",
            f"/inspections/stations/{odd}",
            f"/inspections/{odd}",
            f"/inspections/new?station={odd}",
            f"/inspections/tasks/{task}/photos/{odd}",
        ):
            assert officer.get(url).status_code < 500, url
        form = {"station": odd, "date": odd, "inspectors": odd, "deadline_days": odd, "note": odd}
        form.update({"r_premises_fixed": odd, "n_premises_fixed": odd})
        assert officer.post("/inspections/new/attachments", data=form).status_code == 422
        for who, action in ((master, "report_fixed"), (officer, "verify")):
            r = who.post(
                f"/inspections/tasks/{task}/act",
                data={"action": odd or action, "version": odd, "note": odd, "back": odd},
            )
            assert r.status_code < 500, (odd, r.status_code)
        r = officer.post(f"/inspections/{made['id']}/attachments", data={"item": odd})
        assert r.status_code in (404, 422)
    r = master.post(
        f"/inspections/tasks/{task}/act",
        data={"action": "report_fixed", "version": "abc", "note": "好了"},
    )
    assert r.status_code == 422 and 'class="notice error"' in r.text
    # Without the CSRF token nothing changes.
    r = officer.client.post(
        f"/inspections/tasks/{task}/act", data={"action": "verify", "version": "1"}
    )
    assert r.status_code in (400, 403)
