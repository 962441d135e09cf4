"""Who sees and does what, role by role, enforced in the queries (DESIGN.md section 2)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit.models import AuditRecord


@pytest.fixture
def f01_case(client: TestClient, login) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01"))
    assert r.status_code == 201
    return r.json()


def numbers(client: TestClient, headers: dict[str, str]) -> list[str]:
    r = client.get("/api/v1/cases", headers=headers)
    assert r.status_code == 200, r.text
    return [c["case_no"] for c in r.json()["items"]]


def test_clerk_of_another_station_sees_nothing(client: TestClient, login, f01_case: dict) -> None:
    other = login("clerk_f02")
    no = f01_case["case_no"]
    assert client.get(f"/api/v1/cases/{no}", headers=other).status_code == 404
    assert client.get(f"/api/v1/cases/{no}/events", headers=other).status_code == 404
    r = client.post(
        f"/api/v1/cases/{no}/actions", json={"action": "start", "version": 1}, headers=other
    )
    assert r.status_code == 404
    # The same 404 body as a case number that does not exist at all.
    missing = client.get("/api/v1/cases/000000000000000", headers=other)
    assert missing.status_code == 404
    assert no not in numbers(client, other)
    assert numbers(client, login("clerk_f01")) == [no]


def test_forwarded_case_is_visible_and_actionable_at_target(
    client: TestClient, login, f01_case: dict
) -> None:
    clerk = login("clerk_f01")
    r = client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "forward", "version": 1, "to_unit": "F02"},
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    other = login("clerk_f02")
    assert f01_case["case_no"] in numbers(client, other)
    got = client.get(f"/api/v1/cases/{f01_case['case_no']}", headers=other).json()
    assert got["allowed_actions"] == ["take", "withdraw"]
    r = client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "take", "version": 2},
        headers=other,
    )
    assert r.status_code == 200 and r.json()["unit"] == "F02"
    # The intake station keeps seeing its case, but may no longer act on it.
    mine = client.get(f"/api/v1/cases/{f01_case['case_no']}", headers=clerk).json()
    assert mine["allowed_actions"] == ["withdraw"]  # the person may withdraw where they applied
    r = client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "complete", "version": 3},
        headers=clerk,
    )
    assert r.status_code == 403


@pytest.mark.parametrize("username", ["officer", "supervisor"])
def test_agency_roles_see_every_case(
    client: TestClient, login, f01_case: dict, username: str
) -> None:
    assert f01_case["case_no"] in numbers(client, login(username))


def test_supervisor_reads_but_cannot_act(client: TestClient, login, f01_case: dict) -> None:
    r = client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "start", "version": 1},
        headers=login("supervisor"),
    )
    assert r.status_code == 403
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("supervisor"))
    assert r.status_code == 403


@pytest.mark.parametrize("username", ["admin", "auditor"])
def test_admin_and_auditor_see_no_case_data(
    client: TestClient, login, f01_case: dict, username: str
) -> None:
    h = login(username)
    assert client.get("/api/v1/cases", headers=h).status_code == 403
    assert client.get(f"/api/v1/cases/{f01_case['case_no']}", headers=h).status_code == 403
    assert client.get(f"/api/v1/cases/{f01_case['case_no']}/events", headers=h).status_code == 403
    assert client.post("/api/v1/cases", json=intake_body(), headers=h).status_code == 403


def test_bureau_officer_cannot_act_on_station_case(
    client: TestClient, login, f01_case: dict
) -> None:
    r = client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "start", "version": 1},
        headers=login("officer"),
    )
    assert r.status_code == 403


def test_full_id_read_needs_the_right_and_is_audited(
    client: TestClient, login, f01_case: dict, clean: Node
) -> None:
    no = f01_case["case_no"]
    r = client.post(f"/api/v1/cases/{no}/applicant/id-number", headers=login("clerk_f01"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/cases/{no}/applicant/id-number", headers=login("master_f01"))
    assert r.status_code == 200
    full = r.json()["id_number"]
    assert len(full) == 18 and "*" not in full
    assert full[:6] + "********" + full[-4:] == f01_case["applicant"]["id_number"]
    with clean.runtime.db.session() as s:
        reads = s.scalars(select(AuditRecord).where(AuditRecord.action == "case.read_id_number"))
        assert [(a.actor_name, a.object_id) for a in reads] == [("master_f01", no)]


def test_no_token_or_bad_token_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/cases").status_code == 401
    r = client.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_every_change_leaves_an_audit_record(
    client: TestClient, login, f01_case: dict, clean: Node
) -> None:
    client.post(
        f"/api/v1/cases/{f01_case['case_no']}/actions",
        json={"action": "start", "version": 1},
        headers=login("clerk_f01"),
    )
    with clean.runtime.db.session() as s:
        rows = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.object_id == f01_case["case_no"])
            .order_by(AuditRecord.id)
        )
        assert [r.action for r in rows] == ["case.intake", "case.start"]
