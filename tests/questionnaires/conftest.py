"""Fixtures for questionnaire tests: API calls by user, signed-in browsers, a test template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Browser, sign_in

DEFINITION: dict[str, Any] = {
    "title": "窗口服务满意度",
    "questions": [
        {
            "id": "speed",
            "type": "single",
            "text": "办理速度如何？",
            "options": ["快", "一般", "慢"],
        },
        {
            "id": "topics",
            "type": "multiple",
            "text": "想了解哪些政策？",
            "options": ["门诊", "住院", "备案"],
            "required": False,
        },
        {
            "id": "score",
            "type": "scale",
            "text": "总体满意度",
            "low": "很不满意",
            "high": "非常满意",
        },
        {"id": "words", "type": "text", "text": "意见建议"},
    ],
}


@pytest.fixture
def api(client: TestClient, login):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


@pytest.fixture
def browser(client: TestClient) -> Callable[[str], Browser]:
    """``browser(username)`` → a signed-in Browser with its own cookies."""
    return lambda username: sign_in(TestClient(client.app), username)


@pytest.fixture
def template(api) -> str:  # type: ignore[no-untyped-def]
    """A published test template, code ``window-test``, version 1."""
    r = api(
        "officer",
        "POST",
        "/api/v1/questionnaires",
        json={"code": "window-test", "kind": "procedure", "definition": DEFINITION},
    )
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "draft"
    r = api("officer", "POST", "/api/v1/questionnaires/window-test/versions/1/publish")
    assert r.status_code == 200, r.text
    return "window-test"


def answer(api, user: str, code: str = "window-test", **over: Any):  # type: ignore[no-untyped-def]
    """Submit a response as ``user``; returns the HTTP response."""
    body: dict[str, Any] = {
        "answers": {"speed": "1", "topics": ["1", "3"], "score": 5, "words": "很好"},
        **over,
    }
    return api(user, "POST", f"/api/v1/questionnaires/{code}/responses", json=body)
