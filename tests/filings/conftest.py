"""Fixtures of the filing tests: an API caller and signed-in page clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import make_id
from tests.conftest import Node
from tests.web.conftest import Browser, sign_in

Api = Callable[..., Any]


@pytest.fixture
def api(client: TestClient, login: Callable[[str], dict[str, str]]) -> Api:
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any) -> Any:
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


@pytest.fixture
def browser(client: TestClient) -> Callable[[str], Browser]:
    """``browser(username)`` → a signed-in page client with its own cookies."""

    def make(username: str) -> Browser:
        return sign_in(TestClient(client.app), username)

    return make


def filing_body(**over: Any) -> dict[str, Any]:
    """A referral to 四川成都 with proof, for a fresh synthetic person."""
    body: dict[str, Any] = {
        "person": {"id_number": make_id(), "name": "李秀英", "phone": "13912345678"},
        "kind": "referral",
        "basis": "proof",
        "documents": ["转诊单"],
        "province": "510000",
        "city": "510100",
    }
    body.update(over)
    return body


def file(api: Api, user: str = "clerk_f01", **over: Any) -> dict[str, Any]:
    """File through the API and return the filing (asserting 201)."""
    r = api(user, "POST", "/api/v1/filings", json=filing_body(**over))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


__all__ = ["Api", "Node", "file", "filing_body"]
