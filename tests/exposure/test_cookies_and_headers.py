"""Cookies are Secure when YIBAO_PUBLIC_URL is https (whatever the proxy says); every page has
a Content-Security-Policy without 'unsafe-inline', and the other security headers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.conftest import PASSWORD, Node
from yibao.config import Settings
from yibao.runtime import Runtime
from yibao.web.app import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _app(clean: Node, public_url: str) -> TestClient:
    settings = clean.settings.model_copy(update={"public_url": public_url})
    return TestClient(create_app(runtime=Runtime(settings, clean.runtime.db, clock=clean.clock)))


def _cookies(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def _sign_in(c: TestClient, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Every cookie the sign-in sets: the login form's, then the session's."""
    page = c.get("/login", headers=headers)
    form_cookies = _cookies(page)
    token = _CSRF.search(page.text)
    assert token
    login_csrf = form_cookies["yibao_login_csrf"].split(";", 1)[0].split("=", 1)[1]
    r = c.post(
        "/login",
        data={"username": "clerk_f01", "password": PASSWORD, "csrf_token": token.group(1)},
        # The client itself would not send a Secure cookie over plain http: as a TLS proxy
        # talking http to the node would, it is passed on by hand.
        headers={**(headers or {}), "Cookie": f"yibao_login_csrf={login_csrf}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    lang = c.get("/lang/en", follow_redirects=False)
    return {**_cookies(r), **_cookies(lang), **form_cookies}


def test_cookies_are_secure_behind_a_tls_proxy(clean: Node) -> None:
    with _app(clean, "https://yibao.example.gov.cn") as c:
        # The proxy talks plain http to the node and its X-Forwarded-Proto is not trusted.
        cookies = _sign_in(c)
    for name in ("yibao_login_csrf", "yibao_session", "lang"):
        attrs = [a.strip().lower() for a in cookies[name].split(";")]
        assert "secure" in attrs, cookies[name]
        assert "httponly" in attrs
    session = [a.strip().lower() for a in cookies["yibao_session"].split(";")]
    assert "samesite=lax" in session


def test_cookies_are_not_secure_on_plain_http_whatever_the_headers(clean: Node) -> None:
    with _app(clean, "http://10.1.2.3:8000") as c:
        cookies = _sign_in(c, headers={"X-Forwarded-Proto": "https"})
    assert all("secure" not in v.lower().split("; ") for v in cookies.values()), cookies


def test_public_url_must_be_an_http_address() -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url="yibao.example")
    assert Settings(public_url="https://yibao.example/").https


CSP_PARTS = [
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]


def test_every_page_has_the_policy_and_headers(client: TestClient) -> None:
    for path in ("/login", "/public/", "/public/cases/202609290000001"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert [p.strip() for p in csp.split(";")] == CSP_PARTS
        assert "unsafe" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] in ("same-origin", "no-referrer")
    assert client.get("/login").headers["referrer-policy"] == "same-origin"
    api = client.get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"
