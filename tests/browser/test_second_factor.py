"""Browser journey of the second factor (issue 14), on a node with the default settings (the
same as ``make demo``): the officer must set up an authenticator at the first sign-in, keeps
the recovery codes, signs out and signs in again with a code from the app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import CHROMIUM, PASSWORD, Pages, Server

if not CHROMIUM.exists():
    pytest.skip("browser journeys need Debian's Chromium", allow_module_level=True)
expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def default_pages(chromium: Any, default_node: Server, tmp_path: Path) -> Iterator[Pages]:
    p = Pages(chromium, default_node, {})
    log_start = default_node.log_path.stat().st_size
    yield p
    p.close()
    with default_node.log_path.open("rb") as f:
        f.seek(log_start)
        new_log = f.read().decode("utf-8", errors="replace")
    assert not p.server_errors, f"server errors seen by the browser: {p.server_errors}"
    assert "Traceback" not in new_log, new_log[-4000:]


def _password(page: Any, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")


def test_officer_enrols_an_authenticator_and_signs_in_with_it(default_pages: Pages) -> None:
    page = default_pages.new("officer")
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    _password(page, "officer")
    page.wait_for_url("**/login/enrol**")
    expect(page.locator("h1")).to_have_text("绑定身份验证器应用")
    expect(page.locator(".enrol-qr svg")).to_be_visible()
    secret = page.locator(".totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)

    page.locator("#code").fill("000000")
    page.locator("#code").press("Enter")
    expect(page.locator(".notice.error")).to_contain_text("验证码不正确")

    page.locator("#code").fill(totp.now())
    page.locator("#code").press("Enter")
    expect(page.locator("h1")).to_have_text("恢复码")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="我已妥善保存，继续").click()
    page.wait_for_url(lambda url: "/login" not in url and "/account" not in url)

    page.goto("/account")
    expect(page.locator(".totp-status")).to_contain_text("身份验证器应用，自")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")

    # Again: the password alone does not open the account.
    _password(page, "officer")
    page.wait_for_url("**/login/code**")
    expect(page.locator("h1")).to_have_text("第二因素认证")
    # The code of the next time step (the current one was used to confirm the app).
    page.locator("#code").fill(totp.at(time.time() + 30))
    page.locator("#code").press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/account")
    expect(page.locator("h1")).to_have_text("我的账户")
    assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"
