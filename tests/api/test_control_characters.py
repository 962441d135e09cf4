"""A NUL or other control character anywhere in the case API is a named 422, never a 500.

PostgreSQL cannot store NUL in text; SQLite can. Both must answer the same.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body


@pytest.mark.parametrize(
    ("where", "value"),
    [("applicant.name", "张\x00三"), ("note", "ok\x00"), ("applicant.phone", "138\x000013800")],
)
def test_intake_with_a_nul_is_refused_by_field(
    client: TestClient, login, where: str, value: str
) -> None:
    body = intake_body()
    if where.startswith("applicant."):
        body["applicant"][where.split(".")[1]] = value
    else:
        body[where] = value
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 422, r.text
    assert where in {e["field"] for e in r.json()["errors"]}


def test_actions_lists_and_lookups_with_a_nul_never_fail(client: TestClient, login) -> None:
    h = login("clerk_f01")
    made = client.post("/api/v1/cases", json=intake_body(), headers=h).json()
    r = client.post(
        f"/api/v1/cases/{made['case_no']}/actions",
        json={"action": "reject", "version": made["version"], "reason": "no\x00"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    for url in (
        "/api/v1/cases?q=%00abc",
        "/api/v1/cases?station=F%0001",
        "/api/v1/cases/2026%0001",
        "/public/cases/2026%0001?id_tail=1234",
    ):
        r = client.get(url, headers={**h, "Accept": "application/json"})
        assert r.status_code in (404, 422), (url, r.status_code, r.text)
    assert client.get("/cases?q=%00", headers=h).status_code < 500
