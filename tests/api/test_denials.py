"""Refused access leaves an audit record: who, what they asked for, and that it was refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit.models import AuditRecord


def _denials(clean: Node) -> list[AuditRecord]:
    with clean.runtime.db.session() as s:
        return list(
            s.scalars(
                select(AuditRecord)
                .where(AuditRecord.action == "access.denied")
                .order_by(AuditRecord.id)
            )
        )


def test_an_out_of_scope_case_and_a_forbidden_list_are_recorded(
    client: TestClient, login, clean: Node
) -> None:
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01"))
    assert r.status_code == 201
    no = r.json()["case_no"]
    other = client.get(f"/api/v1/cases/{no}", headers=login("clerk_f02"))
    assert other.status_code == 404
    assert client.get("/api/v1/cases", headers=login("auditor")).status_code == 403
    found = _denials(clean)
    assert [(d.actor_name, d.object_type, d.object_id, d.result) for d in found] == [
        ("clerk_f02", "cases", no, "denied"),
        ("auditor", "cases", "/api/v1/cases", "denied"),  # a list: its path
    ]
    first = found[0]
    assert first.role == "clerk" and first.unit == "F02" and first.detail["status"] == 404
    # The record names the request the clerk's response carried.
    assert first.request_id == other.headers["X-Request-ID"]


def test_an_anonymous_guess_is_not_recorded(client: TestClient, clean: Node) -> None:
    assert client.get("/public/cases/1?id_tail=1234").status_code == 404
    assert _denials(clean) == []
