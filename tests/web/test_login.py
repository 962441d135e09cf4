"""Sign-in pages: cookies, CSRF, lockout and language, as a browser sees them."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Node
from tests.web.conftest import sign_in


def _login_token(c: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert m
    return m.group(1)


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(client: TestClient) -> None:
    token = _login_token(client)
    r = client.post(
        "/login",
        data={"username": "clerk_f01", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = client.get("/account")
    assert page.status_code == 200 and "窗口经办员" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    again = client.get("/account", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_wrong_password_and_wait_messages_in_chinese(client: TestClient) -> None:
    for _ in range(6):
        r = client.post(
            "/login",
            data={"username": "clerk_v01", "password": "nope", "csrf_token": _login_token(client)},
        )
        assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    r = client.post(
        "/login",
        data={"username": "clerk_v01", "password": PASSWORD, "csrf_token": _login_token(client)},
    )
    assert r.status_code == 429 and "错误次数过多，请等待 2 秒后再试" in r.text


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post(
        "/login", data={"username": "clerk_f01", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 401 and "页面已过期" in r.text


def test_post_without_csrf_is_403(client: TestClient) -> None:
    b = sign_in(client, "clerk_f01")
    r = b.client.post("/logout", data={"csrf_token": "wrong"})
    assert r.status_code == 403
    assert b.get("/account").status_code == 200  # still signed in


def test_idle_session_expires(client: TestClient, clean: Node) -> None:
    b = sign_in(client, "clerk_f01")
    clean.clock.now += timedelta(minutes=clean.settings.session_idle_minutes + 1)
    r = b.get("/account", follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]


def test_english_switch(client: TestClient) -> None:
    b = sign_in(client, "clerk_f01")
    assert "我的账户" in b.get("/account").text
    b.get("/lang/en?next=/account")
    page = b.get("/account")
    assert "My account" in page.text and 'lang="en"' in page.text


def test_open_redirect_refused(client: TestClient) -> None:
    r = client.post(
        "/login",
        data={
            "username": "clerk_f01",
            "password": PASSWORD,
            "csrf_token": _login_token(client),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/queue"
