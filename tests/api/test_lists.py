"""Case lists: filters, keyset paging, and refusal of a tampered cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import FIXED_NOW, Node


def seed(client: TestClient, login, clean: Node, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    h = login("clerk_f01")
    made = []
    for i in range(n):
        clean.clock.now = FIXED_NOW + timedelta(minutes=i)
        r = client.post("/api/v1/cases", json=intake_body(), headers=h)
        made.append(r.json()["case_no"])
    return made


def test_keyset_pages_cover_everything_once(client: TestClient, login, clean: Node) -> None:
    made = seed(client, login, clean, 7)
    h = login("clerk_f01")
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/cases?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=h).json()
        seen += [c["case_no"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


def test_tampered_cursor_is_refused(client: TestClient, login, clean: Node) -> None:
    seed(client, login, clean, 3)
    h = login("clerk_f01")
    cursor = client.get("/api/v1/cases?limit=1", headers=h).json()["next_cursor"]
    for bad in (cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "garbage", "%%%"):
        r = client.get("/api/v1/cases", params={"cursor": bad}, headers=h)
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == "cursor"


def test_filters(client: TestClient, login, clean: Node) -> None:
    h = login("clerk_f01")
    a = client.post("/api/v1/cases", json=intake_body(), headers=h).json()
    b = client.post(
        "/api/v1/cases", json=intake_body(service_code="resident_enrolment"), headers=h
    ).json()
    client.post(
        f"/api/v1/cases/{b['case_no']}/actions", json={"action": "start", "version": 1}, headers=h
    )

    def q(params: str) -> list[str]:
        r = client.get(f"/api/v1/cases?{params}", headers=h)
        assert r.status_code == 200, r.text
        return [c["case_no"] for c in r.json()["items"]]

    assert q("state=in_progress") == [b["case_no"]]
    assert set(q("state=received,in_progress")) == {a["case_no"], b["case_no"]}
    assert q("service=insurance_certificate") == [a["case_no"]]
    assert set(q("station=f01")) == {a["case_no"], b["case_no"]}
    assert q("date_from=2026-09-30") == []
    assert set(q("date_from=2026-09-29&date_to=2026-09-29")) == {a["case_no"], b["case_no"]}
    tail = a["applicant"]["id_number"][-4:]
    assert a["case_no"] in q(f"id_tail={tail}")


def test_bad_filters_name_the_field(client: TestClient, login) -> None:
    h = login("clerk_f01")
    for params, field in [
        ("state=lost", "state"),
        ("station=ZZ", "station"),
        ("service=nope", "service"),
        ("limit=0", "limit"),
        ("limit=999", "limit"),
        ("overdue=maybe", "overdue"),
        ("date_from=2026-13-01", "date_from"),
        ("date_from=2026-10-02&date_to=2026-10-01", "date_to"),
        ("id_tail=12", "id_tail"),
    ]:
        r = client.get(f"/api/v1/cases?{params}", headers=h)
        assert r.status_code == 422, params
        assert field in [e["field"] for e in r.json()["errors"]], (params, r.json())


def test_reference_lists(client: TestClient, login) -> None:
    h = login("clerk_f01")
    stations = client.get("/api/v1/stations", headers=h).json()
    kinds = [s["kind"] for s in stations]
    assert (
        kinds.count("bureau"),
        kinds.count("fixed"),
        kinds.count("town"),
        kinds.count("village"),
        kinds.count("mobile"),
    ) == (1, 2, 1, 1, 18)
    services = {s["code"]: s for s in client.get("/api/v1/services", headers=h).json()}
    assert services["relationship_transfer"]["time_limit_days"] == 15
    assert services["insurance_certificate"]["time_limit_days"] == 0
    assert all(len(s["materials"]) <= 4 for s in services.values())
    assert datetime.now(UTC)  # keep import used
