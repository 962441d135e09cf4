"""The second factor (issue 14): an officer enrols an authenticator at sign-in because the
admin's policy says so, signs in with its codes and recovery codes, scripts send it as ``otp``,
and the admin's reset is audited."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.conftest import PASSWORD, Node
from tests.web.conftest import Browser, sign_in
from yibao.audit.models import AuditRecord

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')
_CODES = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
TOKEN = "/api/v1/auth/token"


def _code(site: Node, secret: str, *, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(site.clock.now + timedelta(seconds=30 * steps))


def _require_for(site: Node, *roles: str) -> None:
    admin = sign_in(_fresh(site), "admin")
    r = admin.client.post(
        "/admin/sign-in/policy",
        data={"csrf_token": admin.csrf, "mfa_roles": list(roles)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def _fresh(site: Node) -> TestClient:
    """A fresh browser (its own cookie jar) on the site's app."""
    return TestClient(site.app)  # type: ignore[attr-defined]


@pytest.fixture
def site(client: TestClient, clean: Node) -> Node:
    clean.app = client.app  # type: ignore[attr-defined]
    return clean


def _password(browser: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = _CSRF.search(browser.get("/login").text)
    assert token
    return browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def _enrol_officer(site: Node) -> tuple[TestClient, str, list[str]]:
    """The officer's first sign-in under the policy: set up the app, get recovery codes."""
    _require_for(site, "bureau_officer")
    b = _fresh(site)
    r = _password(b, "officer")
    assert r.status_code == 303 and r.headers["location"].startswith("/login/enrol")
    assert b.get("/account", follow_redirects=False).status_code == 303  # no session yet
    page = b.get("/login/enrol")
    assert page.status_code == 200 and "<svg" in page.text and "绑定身份验证器应用" in page.text
    found = _SECRET.search(page.text)
    assert found
    secret = found.group(1).replace(" ", "")
    csrf = _CSRF.search(page.text)
    assert csrf
    bad = b.post("/login/enrol", data={"code": "000000", "csrf_token": csrf.group(1)})
    assert bad.status_code == 422 and "验证码不正确" in bad.text
    csrf = _CSRF.search(bad.text)
    assert csrf
    done = b.post("/login/enrol", data={"code": _code(site, secret), "csrf_token": csrf.group(1)})
    assert done.status_code == 200 and "恢复码" in done.text
    codes = _CODES.findall(done.text)
    assert len(codes) == 10
    account = b.get("/account")
    assert account.status_code == 200 and "身份验证器应用，自" in account.text
    return b, secret, codes


def test_officer_enrols_at_sign_in_then_signs_in_with_a_code(site: Node) -> None:
    b, secret, _codes = _enrol_officer(site)
    b.post("/logout", data={"csrf_token": _CSRF.findall(b.get("/account").text)[0]})
    assert b.get("/account", follow_redirects=False).status_code == 303

    r = _password(b, "officer")
    assert r.status_code == 303 and r.headers["location"].startswith("/login/code")
    page = b.get("/login/code")
    csrf = _CSRF.search(page.text)
    assert csrf
    # The code that confirmed the app was used up: seen over a shoulder, it is no good.
    again = b.post("/login/code", data={"code": _code(site, secret), "csrf_token": csrf.group(1)})
    assert again.status_code == 401 and "验证码错误或已被使用" in again.text
    site.clock.now += timedelta(seconds=30)
    csrf = _CSRF.search(again.text)
    assert csrf
    ok = b.post(
        "/login/code",
        data={"code": _code(site, secret), "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert b.get("/account").status_code == 200
    with site.runtime.db.session() as s:
        logins = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "auth.login").order_by(AuditRecord.id)
        ).all()
        actions = set(s.scalars(select(AuditRecord.action)).all())
    assert logins[-1].detail["factor"] == "totp"
    assert {"policy.mfa_roles", "user.totp_enrol", "auth.second_factor_fail"} <= actions


def test_the_code_step_cannot_be_skipped_or_reached_without_the_password(site: Node) -> None:
    _b, _secret, _codes = _enrol_officer(site)
    stranger = _fresh(site)
    assert (
        stranger.get("/login/code", follow_redirects=False)
        .headers["location"]
        .startswith("/login?expired")
    )
    b = _fresh(site)
    _password(b, "officer")
    site.clock.now += timedelta(minutes=6)  # the pending step lasts five minutes
    assert b.get("/login/code", follow_redirects=False).status_code == 303


def test_recovery_code_signs_in_once(site: Node) -> None:
    _b, _secret, codes = _enrol_officer(site)
    for expected in (303, 401):
        b = _fresh(site)
        _password(b, "officer")
        csrf = _CSRF.search(b.get("/login/code").text)
        assert csrf
        r = b.post(
            "/login/code",
            data={"code": codes[0].upper(), "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == expected


def test_scripts_send_the_code_as_otp(site: Node) -> None:
    client = _fresh(site)
    _require_for(site, "bureau_officer", "supervisor")
    # A role that must use a second factor and has none: 403 until it enrols.
    r = client.post(TOKEN, json={"username": "supervisor", "password": PASSWORD})
    assert r.status_code == 403
    assert r.json()["type"].endswith("/second_factor_enrolment_required")
    _b, secret, codes = _enrol_officer(site)
    r = client.post(TOKEN, json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["type"].endswith("/second_factor_required")
    site.clock.now += timedelta(seconds=30)
    r = client.post(
        TOKEN, json={"username": "officer", "password": PASSWORD, "otp": _code(site, secret)}
    )
    assert r.status_code == 200
    r = client.post(TOKEN, json={"username": "officer", "password": PASSWORD, "otp": codes[1]})
    assert r.status_code == 200
    # Wrong codes are counted like wrong passwords.
    statuses = [
        client.post(
            TOKEN, json={"username": "officer", "password": PASSWORD, "otp": "123456"}
        ).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    # Clerks are not required: a password is enough.
    assert (
        client.post(TOKEN, json={"username": "clerk_f01", "password": PASSWORD}).status_code == 200
    )


def test_admin_reset_is_audited_and_signs_the_user_out(site: Node) -> None:
    b, secret, _codes = _enrol_officer(site)
    site.clock.now += timedelta(seconds=30)
    token = (
        _fresh(site)
        .post(TOKEN, json={"username": "officer", "password": PASSWORD, "otp": _code(site, secret)})
        .json()["access_token"]
    )
    admin = sign_in(_fresh(site), "admin")
    users = admin.get("/admin/users").text
    uid = re.search(r'href="/admin/users/(\d+)">officer<', users)
    assert uid
    assert "重置第二因素" in admin.get(f"/admin/users/{uid.group(1)}").text
    site.clock.now += timedelta(seconds=1)
    r = admin.post(f"/admin/users/{uid.group(1)}/totp-reset", follow_redirects=False)
    assert r.status_code == 303 and "done=totp_reset" in r.headers["location"]
    assert b.get("/account", follow_redirects=False).status_code == 303  # signed out
    api = _fresh(site)
    assert api.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with site.runtime.db.session() as s:
        rec = s.scalar(select(AuditRecord).where(AuditRecord.action == "user.totp_reset"))
    assert rec is not None and rec.actor_name == "admin" and rec.object_id == uid.group(1)
    # The next sign-in asks for a new enrolment (the policy still requires one).
    r = _password(_fresh(site), "officer")
    assert r.headers["location"].startswith("/login/enrol")


def test_a_clerk_may_add_and_remove_a_second_factor(site: Node) -> None:
    clerk: Browser = sign_in(_fresh(site), "clerk_f01")
    page = clerk.get("/account/totp")
    found = _SECRET.search(page.text)
    assert found
    secret = found.group(1).replace(" ", "")
    r = clerk.post("/account/totp", {"code": _code(site, secret)})
    assert r.status_code == 200 and len(_CODES.findall(r.text)) == 10
    with site.runtime.db.session() as s:
        stored = s.execute(text("SELECT secret FROM user_totp")).scalar_one()
    assert stored.startswith("enc2:") and secret not in stored  # sealed at rest
    site.clock.now += timedelta(seconds=30)
    r = clerk.post("/account/totp/remove", {"code": _code(site, secret)}, follow_redirects=False)
    assert r.status_code == 303
    assert "绑定身份验证器应用" in clerk.get("/account").text
    assert html.unescape(clerk.get("/account").text).count("enc2:") == 0
