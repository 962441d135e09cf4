"""At the window, in real Chromium against `yibao serve`: a clerk's first day.

The clerk tabs to the item list and types pinyin initials, picks the certificate of insurance
(an instant item), takes the phone request and completes it in one step with the keyboard; the
case page and the receipt show it completed, and the channel reads 电话.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, PASSWORD, YIBAO, Pages, Server, make_id

if not CHROMIUM.exists():
    pytest.skip("browser journeys need Debian's Chromium", allow_module_level=True)
expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.xdist_group("browser")

VISIBLE = "os => os.filter(o => !o.hidden && o.value).map(o => o.value)"


@pytest.fixture(scope="module")
def clerk(server: Server) -> str:
    """A new clerk of the hospital station F01, created as an operator would."""
    done = subprocess.run(
        [
            *YIBAO,
            "user",
            "create",
            "clerk_window",
            "--role",
            "clerk",
            "--station",
            "F01",
            "--password-stdin",
        ],
        env=server.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 or "exists" in (done.stdout + done.stderr), done.stderr
    return "clerk_window"


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id"))


def test_clerk_types_initials_and_completes_on_the_spot(
    pages: Pages, server: Server, clerk: str
) -> None:
    id_number = make_id(birth="19520818", seq=731)
    page: Any = pages.signed_in(clerk, fresh=True)
    page.goto("/intake")
    assert focused(page) == "id_number"
    page.keyboard.type(id_number)
    page.keyboard.press("Tab")
    page.keyboard.type("刘桂芳")
    page.keyboard.press("Tab")
    page.keyboard.type("13983005678")
    page.keyboard.press("Tab")
    assert focused(page) == "service_code"
    # No 当场办结 before an item is chosen.
    assert page.locator("#complete-now-button").count() == 0

    # Typing on the list narrows it: cbpz = 参保凭证.
    with page.expect_response(lambda r: "/intake/materials" in r.url):
        page.keyboard.type("cbpz")
    assert focused(page) == "item_filter"
    assert page.input_value("#item_filter") == "cbpz"
    assert page.eval_on_selector_all("#service_code option", VISIBLE) == ["insurance_certificate"]
    assert page.input_value("#service_code") == "insurance_certificate"
    expect(page.locator("#materials")).to_contain_text("居民身份证")
    expect(page.locator("#complete-now-button")).to_have_text("受理并当场办结")

    # Enter picks and moves on to the channel; the phone channel reads 电话.
    page.keyboard.press("Enter")
    assert focused(page) == "channel"
    labels = page.eval_on_selector_all("#channel option", "os => os.map(o => o.text)")
    assert "电话" in labels and "联系电话" not in labels
    with page.expect_response(lambda r: "/intake/materials" in r.url):
        page.locator("#channel").select_option("phone")
    assert page.eval_on_selector("#channel", "s => s.selectedOptions[0].text") == "电话"
    expect(page.locator("#complete-now-button")).to_be_visible()  # still instant by phone

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "id_card"
    page.keyboard.press("Space")
    assert page.is_checked("input[name=materials][value=id_card]")
    page.keyboard.press("Tab")
    assert focused(page) == "note"
    page.keyboard.press("Tab")  # 受理 (two steps)
    page.keyboard.press("Tab")  # 受理并当场办结
    assert focused(page) == "complete-now-button"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert "done=completed_at_intake" in page.url
    expect(page.locator("p.notice.ok[role=status]")).to_contain_text("已受理并当场办结")
    assert page.locator("section h1 + p strong").inner_text().strip() == "已办结"
    taken = page.locator("dt:text-is('受理地点') + dd, dt:text-is('受理') + dd").first
    expect(taken).to_contain_text("电话")
    expect(page.locator("ol.timeline")).to_contain_text("当场办结")
    assert "Nothing" not in page.content()

    with page.context.expect_page() as opened:
        page.get_by_role("link", name="打印受理回执").click()
    receipt = pages.track("receipt", opened.value)
    receipt.wait_for_load_state()
    sheet = receipt.locator("section.sheet")
    expect(sheet.locator("tr#completed td")).to_contain_text("当场办结")
    expect(sheet.locator("tr:has(th:text-is('办结人')) td")).to_have_text("clerk_window")
    expect(sheet.locator("tr:has(th:text-is('当前状态')) td")).to_have_text("已办结")
    expect(sheet.locator("tr:has(th:text-is('受理方式')) td")).to_have_text("电话申请")
    assert "承诺办结日期" not in sheet.inner_text()

    # What the API says about it: completed, by this clerk, in two events.
    case_no = receipt.url.split("/cases/")[1].split("/")[0]
    events = server.api("GET", f"/api/v1/cases/{case_no}/events", "officer").json()
    assert [(e["action"], e["to_state"]) for e in events] == [
        ("intake", "received"),
        ("complete", "completed"),
    ]


def test_the_filter_takes_characters_and_codes(pages: Pages, clerk: str) -> None:
    page: Any = pages.signed_in(clerk)
    page.goto("/intake")
    box = page.locator("#item_filter")
    expect(box).to_be_visible()  # shown by the script
    box.fill("备案")
    assert page.eval_on_selector_all("#service_code option", VISIBLE) == ["remote_care_filing"]
    box.fill("insurance_c")
    assert page.eval_on_selector_all("#service_code option", VISIBLE) == ["insurance_certificate"]
    box.fill("lxbx")
    assert len(page.eval_on_selector_all("#service_code option", VISIBLE)) == 3
    box.press("Escape")
    everything = page.eval_on_selector_all("#service_code option", VISIBLE)
    assert len(everything) > 10
