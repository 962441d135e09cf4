"""Fixtures for page tests: a browser-like client signed in through the real login form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A TestClient with cookies, signed in as one user; ``csrf`` is the session's token."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def]
        """A form post carrying the CSRF token, as the page's forms do."""
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)

    def htmx(self, method: str, url: str, **kw):  # type: ignore[no-untyped-def]
        """A request as HTMX sends it (CSRF in the header)."""
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)


def sign_in(app_client: TestClient, username: str, password: str = PASSWORD) -> Browser:
    """Sign in through GET/POST /login and return a Browser holding the session cookie."""
    page = app_client.get("/login")
    token = _CSRF.search(page.text)
    assert token, "login form has no CSRF token"
    r = app_client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = app_client.get("/account")
    found = _CSRF.search(home.text)
    assert found, "signed-in page has no CSRF token"
    return Browser(app_client, found.group(1))


@pytest.fixture
def browser(client: TestClient) -> Callable[[str], Browser]:
    """``browser(username)`` → a signed-in Browser (each call a separate cookie jar)."""
    from yibao.web.app import create_app

    app = client.app

    def _make(username: str) -> Browser:
        c = TestClient(app)  # its own cookie jar
        assert create_app  # the app is the same node as ``client``
        return sign_in(c, username)

    return _make
