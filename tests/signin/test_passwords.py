"""Password rules (issue 14): the probe's weak passwords are refused on every set and reset."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Node
from tests.web.conftest import sign_in
from yibao.accounts import passwords


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "至少需要 10 个字符"),
        ("password", "至少需要 10 个字符"),
        ("1234567890", "最常见的密码"),
        ("qwertyuiop", "最常见的密码"),
        ("password2026!", "最常见的密码"),  # a common one with digits and a sign around it
        ("2026Football", "最常见的密码"),
        ("zhangwei_clerkzhangwei_clerk", "不能包含用户名"),  # the user name twice
        ("aaaaabbbbbaaaaa", "至少使用四个不同的字符"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    found = passwords.problems(password, username="zhangwei_clerk")
    assert len(found) == 1 and found[0].field == "password"
    assert why in found[0].message_zh


def test_a_good_password_passes() -> None:
    assert passwords.problems("窗口-夏天-Lotus-93", username="zhangwei_clerk") == []
    assert passwords.problems("yibao-demo-2026", username="officer") == []


def test_the_shipped_list_is_large() -> None:
    words = passwords.common_passwords()
    assert len(words) > 45_000 and "123456" in words and "iloveyou" in words


@given(st.text(max_size=300), st.text(max_size=70))
def test_any_input_gets_a_verdict_never_an_exception(password: str, username: str) -> None:
    found = passwords.problems(password, username=username)
    assert all(e.field == "password" and e.message_zh for e in found)
    if len(password) < passwords.MIN_LENGTH:
        assert found


def test_admin_reset_and_create_refuse_a_common_password(client: TestClient, clean: Node) -> None:
    admin = sign_in(TestClient(client.app), "admin")
    r = admin.post(
        "/admin/users",
        {
            "username": "wu_new",
            "display_name": "吴",
            "role": "clerk",
            "station": "F01",
            "password": "1qaz2wsx3edc",
            "password_confirm": "1qaz2wsx3edc",
        },
    )
    assert r.status_code == 422 and "最常见的密码之一" in r.text
    users = admin.get("/admin/users").text
    assert "wu_new" not in users
    uid = int(users.split('href="/admin/users/', 2)[1].split('"', 1)[0])
    r = admin.post(
        f"/admin/users/{uid}/password",
        {"password": "iloveyou2026", "password_confirm": "iloveyou2026"},
    )
    assert r.status_code == 422 and "最常见的密码之一" in r.text
