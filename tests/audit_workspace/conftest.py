"""Fixtures for the auditor's workspace: signed-in browsers and a few real audit records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.web.conftest import Browser, sign_in


@pytest.fixture
def browser(client: TestClient) -> Callable[[str], Browser]:
    """``browser(username)`` → a signed-in Browser with its own cookie jar."""

    def _make(username: str) -> Browser:
        return sign_in(TestClient(client.app), username)

    return _make


@pytest.fixture
def trail(client: TestClient, login: Any) -> dict[str, Any]:
    """Real actions through the API as a clerk: three intakes (one audit record each)."""
    clerk = login("clerk_f01")
    made = []
    for _n in range(3):
        r = client.post("/api/v1/cases", json=intake_body(), headers=clerk)
        assert r.status_code == 201, r.text
        made.append(r.json()["case_no"])
    assert client.get(f"/api/v1/cases/{made[0]}", headers=clerk).status_code == 200
    return {"cases": made, "auditor": login("auditor")}
