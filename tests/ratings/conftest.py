"""Helpers for rating tests: completed cases taken through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import Node

Api = Callable[..., Any]


@pytest.fixture
def api(client: TestClient, login, clean: Node) -> Api:  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


@pytest.fixture
def completed(api: Api) -> Callable[..., dict[str, Any]]:
    """``completed(user="clerk_f01", station="F01")`` → a completed case with its ``id_tail``."""

    def make(user: str = "clerk_f01", station: str = "F01", **over: Any) -> dict[str, Any]:
        body = intake_body(station_code=station, **over)
        r = api(user, "POST", "/api/v1/cases", json=body)
        assert r.status_code == 201, r.text
        case = r.json()
        r = api(
            user,
            "POST",
            f"/api/v1/cases/{case['case_no']}/actions",
            json={"action": "complete", "version": case["version"]},
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        out["id_tail"] = body["applicant"]["id_number"][-4:]
        return out

    return make


def scores(overall: int = 5, **over: Any) -> dict[str, Any]:
    """A rating body."""
    return {
        "overall": overall,
        "efficiency": overall,
        "service_level": overall,
        "attitude": overall,
        **over,
    }
