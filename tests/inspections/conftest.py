"""Fixtures of the inspection tests: an API caller and a ready-made inspection body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Node
from tests.web.conftest import browser  # noqa: F401  (the page fixture)
from yibao.inspections import service

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def api(client: TestClient, login, clean: Node):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


def body(station: str = "F01", fail: dict[str, str] | None = None, **over: Any) -> dict[str, Any]:
    """An inspection of ``station`` today where the items in ``fail`` failed (code → note)."""
    fail = fail or {}
    return {
        "station_code": station,
        "date": "2026-09-29",
        "inspectors": ["王建华", "李娟"],
        "results": [
            {"item": i.code, "passed": i.code not in fail, "note": fail.get(i.code)}
            for i in service.checklist().items
        ],
        **over,
    }


def inspect(
    api, station: str = "F01", fail: dict[str, str] | None = None, **over: Any
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api("officer", "POST", "/api/v1/inspections", json=body(station, fail, **over))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
