"""Lifecycle actions through the API: deadlines, forwarding, versions, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import Node


def new_case(client: TestClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/cases", json=intake_body(**over), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def act(
    client: TestClient, headers: dict[str, str], case: dict[str, Any], action: str, **params: Any
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": action, "version": case["version"], **params},
        headers=headers,
    )


def test_full_path_with_materials_pause_and_forward(client: TestClient, login, clean: Node) -> None:
    clerk = login("clerk_f01")
    officer = login("officer")
    case = new_case(client, clerk, service_code="outpatient_reimbursement", materials=["id_card"])
    assert case["due_date"] == "2026-10-19"

    r = act(client, clerk, case, "request_materials", missing_materials=["invoices"])
    assert r.status_code == 422
    assert "cost_list" in r.json()["errors"][0]["message"]  # 一次性告知: all at once

    r = act(
        client,
        clerk,
        case,
        "request_materials",
        missing_materials=["invoices", "cost_list", "medical_records"],
    )
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["state"] == "materials_pending"
    assert case["clock"] == "paused"
    assert case["remaining_working_days"] == 10

    # The person comes back a month later: the clock runs again with the 10 days left.
    clean.clock.now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    case = act(client, clerk, case, "supplement").json()
    assert case["state"] == "in_progress"
    assert case["due_date"] == "2026-11-16"
    assert case["materials_missing"] == []

    # A hospital station may not pay reimbursements: it must forward.
    r = act(client, clerk, case, "complete")
    assert r.status_code == 422
    assert "forward" in r.json()["detail"]
    assert "forward" in r.json()["allowed"]

    case = act(client, clerk, case, "forward", to_unit="bureau").json()
    assert case["state"] == "forwarded" and case["unit"] == "BUREAU"
    # The officer's queue shows it; the clerk still sees it (own station's case).
    queue = client.get("/api/v1/cases?station=BUREAU&state=forwarded", headers=officer).json()
    assert case["case_no"] in [c["case_no"] for c in queue["items"]]
    assert act(client, clerk, case, "take").status_code == 403

    case = act(client, officer, case, "take").json()
    case = act(client, officer, case, "complete").json()
    assert case["state"] == "completed"
    assert case["closed_date"] == "2026-11-02"
    assert case["light"] == "green"
    assert case["allowed_actions"] == []

    timeline = client.get(f"/api/v1/cases/{case['case_no']}/events", headers=clerk).json()
    assert [e["action"] for e in timeline] == [
        "intake",
        "request_materials",
        "supplement",
        "forward",
        "take",
        "complete",
    ]
    for prev, nxt in pairwise(timeline):
        assert nxt["from_state"] == prev["to_state"]
    assert timeline[1]["detail"]["missing_materials"] == [
        "invoices",
        "cost_list",
        "medical_records",
    ]
    assert timeline[3]["detail"]["to_unit"] == "BUREAU"
    assert all(e["actor"]["name"] for e in timeline)


def test_stale_version_gets_409_with_current_state(client: TestClient, login) -> None:
    clerk = login("clerk_f01")
    case = new_case(client, clerk)
    assert act(client, clerk, case, "start").status_code == 200
    r = act(client, clerk, case, "reject", reason="重复申请")  # still version 1
    assert r.status_code == 409
    assert r.json()["current_state"] == "in_progress"
    assert r.json()["current_version"] == 2
    assert (
        client.get(f"/api/v1/cases/{case['case_no']}", headers=clerk).json()["state"]
        == "in_progress"
    )


def test_action_not_in_table_is_422_with_allowed_list(client: TestClient, login) -> None:
    clerk = login("clerk_f01")
    case = new_case(client, clerk)
    r = act(client, clerk, case, "supplement")
    assert r.status_code == 422
    assert r.json()["allowed"] == [
        "start",
        "request_materials",
        "forward",
        "complete",
        "reject",
        "withdraw",
    ]


def test_unknown_action_and_empty_reason(client: TestClient, login) -> None:
    clerk = login("clerk_f01")
    case = new_case(client, clerk)
    r = act(client, clerk, case, "explode")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "action"
    r = act(client, clerk, case, "reject", reason="   ")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = act(client, clerk, case, "forward", to_unit="XX1")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_unit"
    r = act(client, clerk, case, "forward", to_unit="F01")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_unit"
    after = client.get(f"/api/v1/cases/{case['case_no']}", headers=clerk).json()
    assert after["version"] == 1 and after["state"] == "received"
    events = client.get(f"/api/v1/cases/{case['case_no']}/events", headers=clerk).json()
    assert len(events) == 1


def test_overdue_light_and_filter(client: TestClient, login, clean: Node) -> None:
    clerk = login("clerk_f01")
    case = new_case(client, clerk)  # instant: due Tue 9/29
    clean.clock.now = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    got = client.get(f"/api/v1/cases/{case['case_no']}", headers=clerk).json()
    assert got["light"] == "red" and got["overdue"] is True
    assert got["remaining_working_days"] == -1
    overdue = client.get("/api/v1/cases?overdue=true", headers=clerk).json()["items"]
    assert [c["case_no"] for c in overdue] == [case["case_no"]]
    assert client.get("/api/v1/cases?overdue=false", headers=clerk).json()["items"] == []
