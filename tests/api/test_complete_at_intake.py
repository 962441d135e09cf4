"""当场办结 through the API: an instant item taken and completed in one step, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit.models import AuditRecord
from yibao.cases.models import Case, CaseEvent, IdempotencyRecord


def counts(node: Node) -> tuple[int, int, int, int]:
    with node.runtime.db.session() as s:
        return (
            s.scalar(select(func.count(Case.id))) or 0,
            s.scalar(select(func.count(CaseEvent.id))) or 0,
            s.scalar(select(func.count(IdempotencyRecord.id))) or 0,
            s.scalar(select(func.count(AuditRecord.id))) or 0,
        )


def test_instant_item_is_taken_and_completed_in_one_step(
    client: TestClient, login, clean: Node
) -> None:
    h = {**login("clerk_f01"), "Idempotency-Key": "one-step-1"}
    r = client.post("/api/v1/cases", json=intake_body(complete_now=True), headers=h)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["state"], case["state_label"]) == ("completed", "已办结")
    assert case["closed_date"] == "2026-09-29"
    assert case["clock"] == "stopped" and case["overdue"] is False
    assert case["allowed_actions"] == []
    events = client.get(f"/api/v1/cases/{case['case_no']}/events", headers=h).json()
    assert [(e["seq"], e["action"], e["from_state"], e["to_state"]) for e in events] == [
        (1, "intake", None, "received"),
        (2, "complete", "received", "completed"),
    ]
    assert events[1]["detail"]["at_intake"] is True
    assert events[1]["detail"]["on_time"] is True
    assert events[1]["actor"]["role"] == "clerk"
    with clean.runtime.db.session() as s:
        trail = [
            a.action
            for a in s.scalars(
                select(AuditRecord)
                .where(AuditRecord.object_id == case["case_no"])
                .order_by(AuditRecord.id)
            )
        ]
    assert trail == ["case.intake", "case.complete"]
    # Everything together: the case, both events, the key and both audit records.
    assert counts(clean) == (1, 2, 1, 2)


def test_a_repeat_replays_the_completed_case(client: TestClient, login, clean: Node) -> None:
    h = {**login("clerk_f01"), "Idempotency-Key": "one-step-2"}
    body = intake_body(complete_now=True)
    first = client.post("/api/v1/cases", json=body, headers=h)
    again = client.post("/api/v1/cases", json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["case_no"] == first.json()["case_no"]
    assert again.json()["state"] == "completed"
    assert counts(clean)[:3] == (1, 2, 1)
    # The same key for the two-step path is another request.
    other = client.post("/api/v1/cases", json={**body, "complete_now": False}, headers=h)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


def test_explicit_false_is_the_two_step_path(client: TestClient, login, clean: Node) -> None:
    h = {**login("clerk_f01"), "Idempotency-Key": "two-step"}
    body = intake_body()
    first = client.post("/api/v1/cases", json=body, headers=h)
    # Absent and false are the same request: the key replays.
    again = client.post("/api/v1/cases", json={**body, "complete_now": False}, headers=h)
    assert first.json()["state"] == "received"
    assert again.status_code == 201 and again.json()["case_no"] == first.json()["case_no"]


def _refused(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert "complete_now" in errors, errors
    return errors["complete_now"]


def test_an_item_with_a_time_limit_is_not_completed_at_intake(
    client: TestClient, login, clean: Node
) -> None:
    body = intake_body(
        service_code="outpatient_reimbursement", materials=["id_card"], complete_now=True
    )
    err = _refused(client.post("/api/v1/cases", json=body, headers=login("clerk_f01")))
    assert err["message_zh"] == "只有即时办结的事项才能当场办结"
    assert counts(clean) == (0, 0, 0, 0)


def test_an_item_the_station_may_not_complete_is_refused(
    client: TestClient, login, clean: Node
) -> None:
    # Employee enrolment is instant, but only the bureau and town stations complete it.
    body = intake_body(
        service_code="employee_enrolment",
        materials=["employee_registration_form", "id_card"],
        complete_now=True,
    )
    err = _refused(client.post("/api/v1/cases", json=body, headers=login("clerk_f01")))
    assert "转办" in err["message_zh"]
    assert counts(clean) == (0, 0, 0, 0)
    # A village station may not complete it either; without complete_now it is taken.
    village = body | {"station_code": "V01"}
    _refused(client.post("/api/v1/cases", json=village, headers=login("clerk_v01")))
    taken = client.post(
        "/api/v1/cases", json=village | {"complete_now": False}, headers=login("clerk_v01")
    )
    assert taken.status_code == 201 and taken.json()["state"] == "received"


def test_an_online_filing_takes_a_day_so_is_not_instant(
    client: TestClient, login, clean: Node
) -> None:
    body = intake_body(
        service_code="remote_care_filing",
        channel="online",
        materials=["id_card"],
        complete_now=True,
    )
    _refused(client.post("/api/v1/cases", json=body, headers=login("clerk_f01")))
    window = client.post(
        "/api/v1/cases", json={**body, "channel": "window"}, headers=login("clerk_f01")
    )
    assert window.status_code == 201 and window.json()["state"] == "completed"


@pytest.mark.parametrize("value", ["maybe", 2, [True], {"x": 1}])
def test_a_value_that_is_not_a_yes_or_no_names_the_field(
    client: TestClient, login, clean: Node, value: Any
) -> None:
    r = client.post(
        "/api/v1/cases", json=intake_body(complete_now=value), headers=login("clerk_f01")
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["complete_now"]
    assert counts(clean) == (0, 0, 0, 0)


def test_a_failure_in_the_completion_leaves_nothing(
    client: TestClient, login, clean: Node, monkeypatch
) -> None:
    from yibao.cases import intake
    from yibao.errors import ActionNotAllowed

    def refuse(*_a: Any, **_k: Any) -> None:
        raise ActionNotAllowed("refused for the test", allowed=[], state="received")

    monkeypatch.setattr(intake.lifecycle, "decide", refuse)
    h = {**login("clerk_f01"), "Idempotency-Key": "one-step-fails"}
    r = client.post("/api/v1/cases", json=intake_body(complete_now=True), headers=h)
    assert r.status_code == 422
    # Not half-written: no case, no intake event, no key, no audit record.
    assert counts(clean) == (0, 0, 0, 0)
