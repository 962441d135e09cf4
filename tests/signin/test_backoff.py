"""Waits after wrong sign-ins (issue 14): the same answer for unknown names and wrong
passwords, growing delays instead of a lock, and a clerk's own browser is not held back by a
stranger hammering the name."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import PASSWORD, Node
from tests.web.conftest import sign_in
from yibao.audit.models import AuditRecord

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = "/api/v1/auth/token"


def _answers(client: TestClient, username: str, n: int) -> list[tuple[int, str | None, str]]:
    out = []
    for _ in range(n):
        r = client.post(TOKEN, json={"username": username, "password": "wrong-password-9"})
        out.append((r.status_code, r.headers.get("retry-after"), r.json()["detail"]))
    return out


def test_unknown_name_and_wrong_password_get_the_same_answers(
    client: TestClient, clean: Node
) -> None:
    real = _answers(client, "clerk_f01", 8)
    ghost = _answers(client, "no_such_clerk", 8)
    assert real == ghost
    # 5 free tries, the 6th wrong one starts a 2 s wait; no 423 "locked" for anyone.
    assert [s for s, _, _ in real] == [401] * 6 + [429, 429]
    assert real[6][1] == "2"


def test_waits_grow_then_cool_down_and_always_end(client: TestClient, clean: Node) -> None:
    bad = {"username": "clerk_f02", "password": "wrong-password-9"}
    waits: list[int] = []
    while len(waits) < 12:
        r = client.post(TOKEN, json=bad)
        if r.status_code == 429:  # told to wait: wait exactly that long, then guess again
            waits.append(int(r.headers["retry-after"]))
            clean.clock.now += timedelta(seconds=waits[-1])
        else:
            assert r.status_code == 401
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]  # 15 minutes at most
    r = client.post(TOKEN, json={"username": "clerk_f02", "password": PASSWORD})
    assert r.status_code == 200  # the wait ended, nobody had to unlock


def _login(client: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    token = _CSRF.search(client.get("/login").text)
    assert token
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def test_a_stranger_cannot_keep_a_clerk_out_at_their_own_window(
    client: TestClient, clean: Node
) -> None:
    window = TestClient(client.app)  # the clerk's browser at the window
    sign_in(window, "clerk_v01").post("/logout")  # signed in there yesterday, then out
    stranger = TestClient(client.app)
    for _ in range(12):
        _login(stranger, "clerk_v01", "guess-guess-1")
    assert _login(stranger, "clerk_v01", PASSWORD).status_code == 429
    # The window's browser carries the device cookie of that sign-in: counted apart.
    assert _login(window, "clerk_v01", PASSWORD).status_code == 303
    with clean.runtime.db.session() as s:
        locks = s.scalars(select(AuditRecord).where(AuditRecord.action == "auth.lock")).all()
        fails = s.scalars(select(AuditRecord).where(AuditRecord.action == "auth.fail")).all()
    assert locks and locks[0].detail["key_kind"] == "name"
    assert all(f.result == "failed" for f in fails) and len(fails) >= 6


def test_forged_forwarded_for_does_not_dodge_the_address_wait(
    client: TestClient, clean: Node
) -> None:
    # 30 wrong tries from one address across many names: the address waits, whatever the
    # X-Forwarded-For header claims (the test client is not a trusted proxy).
    for i in range(31):
        client.post(
            TOKEN,
            json={"username": f"spray_{i}", "password": "wrong-password-9"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        )
    r = client.post(
        TOKEN,
        json={"username": "clerk_m01", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert r.status_code == 429


def test_admin_sees_the_waits_and_ends_one_audited(client: TestClient, clean: Node) -> None:
    for _ in range(7):
        client.post(TOKEN, json={"username": "clerk_m01", "password": "wrong-password-9"})
    admin = sign_in(TestClient(client.app), "admin")
    page = admin.get("/admin/sign-in")
    assert page.status_code == 200 and "clerk_m01" in page.text and "登录错误后的等待" in page.text
    r = admin.post("/admin/sign-in/lift", {"key": "name:clerk_m01"}, follow_redirects=False)
    assert r.status_code == 303
    assert "clerk_m01" not in admin.get("/admin/sign-in").text
    assert (
        client.post(TOKEN, json={"username": "clerk_m01", "password": PASSWORD}).status_code == 200
    )
    with clean.runtime.db.session() as s:
        rec = s.scalar(select(AuditRecord).where(AuditRecord.action == "auth.unlock"))
    assert rec is not None and rec.actor_name and rec.detail["key"] == "name:clerk_m01"
    # Only the admin sees this page.
    officer = sign_in(TestClient(client.app), "officer")
    assert officer.get("/admin/sign-in").status_code == 403
