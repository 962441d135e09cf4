"""Case intake through the HTTP API: the happy path, idempotency, and every bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import intake_body, make_id
from tests.conftest import FIXED_NOW, Node
from yibao.cases.models import Case, CaseEvent


def count_cases(node: Node) -> tuple[int, int]:
    with node.runtime.db.session() as s:
        return (
            s.scalar(select(func.count(Case.id))) or 0,
            s.scalar(select(func.count(CaseEvent.id))) or 0,
        )


def test_intake_returns_case_with_due_date_and_first_event(client: TestClient, login) -> None:
    h = login("clerk_f01")
    r = client.post(
        "/api/v1/cases",
        json=intake_body(
            service_code="outpatient_reimbursement", materials=["id_card", "invoices"]
        ),
        headers=h,
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "received"
    assert case["version"] == 1
    # 10 working days after Tue 2026-09-29: 9/30, then (10/1–10/7 off) 10/8, 10/9,
    # the make-up Saturday 10/10, 10/12–10/16 and Mon 10/19.
    assert case["due_date"] == "2026-10-19"
    assert case["due_estimated"] is False
    assert case["light"] == "green"
    assert case["applicant"]["id_number"].startswith("500118********")
    assert len(case["applicant"]["id_number"]) == 18
    assert r.headers["location"] == f"/api/v1/cases/{case['case_no']}"
    ev = client.get(f"/api/v1/cases/{case['case_no']}/events", headers=h).json()
    assert [(e["action"], e["from_state"], e["to_state"]) for e in ev] == [
        ("intake", None, "received")
    ]


def test_instant_item_is_due_the_same_day(client: TestClient, login) -> None:
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01"))
    assert r.json()["due_date"] == "2026-09-29"
    assert r.json()["light"] == "yellow"


def test_online_filing_takes_one_working_day(client: TestClient, login) -> None:
    body = intake_body(service_code="remote_care_filing", channel="online", materials=["id_card"])
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    assert r.json()["due_date"] == "2026-09-30"


def test_captured_offline_counts_from_capture_time(client: TestClient, login) -> None:
    # Captured on Fri 2026-09-25 at 16:00 local, before the Mid-Autumn break (9/25–9/27 off).
    body = intake_body(
        service_code="outpatient_reimbursement_small",
        channel="mobile",
        station_code="M01",
        captured_at="2026-09-24T16:00:00+08:00",
    )
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_m01"))
    assert r.status_code == 201, r.text
    # 5 working days after Thu 9/24: Mon 9/28, Tue 9/29, Wed 9/30, Thu 10/8, Fri 10/9.
    assert r.json()["due_date"] == "2026-10-09"
    assert r.json()["intake_date"] == "2026-09-24"


def test_idempotency_key_replays_first_response(client: TestClient, login, clean: Node) -> None:
    h = {**login("clerk_f01"), "Idempotency-Key": "k-123"}
    body = intake_body()
    first = client.post("/api/v1/cases", json=body, headers=h)
    second = client.post("/api/v1/cases", json=body, headers=h)
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["case_no"] == second.json()["case_no"]
    assert count_cases(clean) == (1, 1)
    other = client.post("/api/v1/cases", json=intake_body(note="different"), headers=h)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count_cases(clean) == (1, 1)


_VALID = make_id(seq=7)
_WRONG_CHECK = _VALID[:-1] + ("0" if _VALID[-1] != "0" else "1")

BAD = [
    (
        "mistyped id",
        {"applicant": {"id_number": "50011819530412001", "name": "张三", "phone": "13800138000"}},
        "applicant.id_number",
    ),
    (
        "bad check char",
        {"applicant": {"id_number": _WRONG_CHECK, "name": "张三", "phone": "13800138000"}},
        "applicant.id_number",
    ),
    (
        "bad phone",
        {"applicant": {"id_number": make_id(), "name": "张三", "phone": "12345"}},
        "applicant.phone",
    ),
    ("unknown service", {"service_code": "nope"}, "service_code"),
    ("unknown station", {"station_code": "ZZ9"}, "station_code"),
    ("other station", {"station_code": "F02"}, "station_code"),
    ("unknown channel", {"channel": "fax"}, "channel"),
    ("foreign material", {"materials": ["id_card", "invoices"]}, "materials[1]"),
    (
        "future capture",
        {"captured_at": (FIXED_NOW + timedelta(hours=2)).isoformat()},
        "captured_at",
    ),
    ("naive capture", {"captured_at": "2026-09-28T10:00:00"}, "captured_at"),
    ("missing field", {"channel": None}, "channel"),
    ("extra field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("label", "over", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_intake_names_the_field_and_writes_nothing(
    client: TestClient, login, clean: Node, label: str, over: dict, field: str
) -> None:
    body = intake_body(**over)
    if over.get("channel", "") is None:
        del body["channel"]
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert {"type", "title", "status", "detail", "errors"} <= problem.keys()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert count_cases(clean) == (0, 0)


def test_station_kind_must_accept_item(client: TestClient, login) -> None:
    body = intake_body(station_code="V01", service_code="supervision_lead", materials=[])
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_v01"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "service_code"


def test_malformed_json_is_400_problem(client: TestClient, login) -> None:
    r = client.post(
        "/api/v1/cases",
        content=b'{"service_code": ',
        headers={**login("clerk_f01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "body", "message": "not valid JSON"}]


def test_oversized_body_is_413(client: TestClient, login, clean: Node) -> None:
    body = intake_body(note="x" * 300_000)
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 413
    assert r.json()["status"] == 413
    assert count_cases(clean) == (0, 0)


def test_legacy_15_digit_id_is_widened(client: TestClient, login) -> None:
    body = intake_body(
        applicant={"id_number": "500118530412001", "name": "李四", "phone": "023-49876543"}
    )
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    assert r.json()["applicant"]["id_number"].startswith("500118********")


def test_case_number_clash_is_retried(client: TestClient, login, clean: Node, monkeypatch) -> None:
    from yibao.cases import intake

    numbers = iter(["202609290000001", "202609290000001", "202609290000002"])
    monkeypatch.setattr(intake, "_new_case_no", lambda _d: next(numbers))
    h = login("clerk_f01")
    first = client.post("/api/v1/cases", json=intake_body(), headers=h)
    second = client.post("/api/v1/cases", json=intake_body(), headers=h)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["case_no"] == "202609290000002"
    assert count_cases(clean) == (2, 2)
