"""Fixtures of the visits tests: a node without visits, API calls as a user, page browsers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import Node
from tests.web.conftest import browser  # noqa: F401  (the page tests' signed-in browser)


@pytest.fixture
def vnode(clean: Node) -> Node:
    """The clean node without visits either."""
    with clean.runtime.db.uow() as uow:
        uow.session.execute(text("DELETE FROM visit_events"))
        uow.session.execute(text("DELETE FROM visits"))
        uow.commit()
    return clean


@pytest.fixture
def api(client: TestClient, login, vnode: Node):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call
