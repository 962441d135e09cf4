"""好差评 in real Chromium: a citizen rates a finished case on a phone; a bad rating becomes the
clerk's rectification task."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, Pages, Server, make_id

if not CHROMIUM.exists():
    pytest.skip(
        "browser journeys need Debian's Chromium at /usr/bin/chromium", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")

pytestmark = pytest.mark.xdist_group("browser")

PHONE = {"width": 390, "height": 844}  # iPhone 12/13/14 in CSS pixels


def completed_case(server: Server, make_case: Any, id_number: str, name: str) -> str:
    case = make_case("clerk_a", id_number, name, service_code="insurance_certificate")
    r = server.api(
        "POST",
        f"/api/v1/cases/{case['case_no']}/actions",
        "clerk_a",
        json={"action": "complete", "version": case["version"]},
    )
    assert r.status_code == 200, r.text
    return str(case["case_no"])


def rate_on_phone(
    pages: Pages, case_no: str, tail: str, levels: dict[str, str], comment: str
) -> Any:
    phone = pages.new("citizen-phone", viewport=PHONE)
    phone.goto(f"/public/cases/{case_no}")
    phone.locator("#id_tail").fill(tail)
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert phone.locator(".state").inner_text().strip() == "已办结"
    form = phone.locator("#rating-form")
    assert form.is_visible()
    for name, label in levels.items():
        form.locator(f"#f-{name} label", has_text=label).first.click()
    phone.locator("#comment").fill(comment)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the rating form scrolls sideways: {width}"
    with phone.expect_navigation():
        form.locator("button[type=submit]").click()
    return phone


def test_citizen_rates_on_a_phone_and_sees_the_thanks(
    pages: Pages, server: Server, make_case: Any
) -> None:
    id_number = make_id(birth="19560303", seq=811)
    case_no = completed_case(server, make_case, id_number, "周桂芳")
    levels = {
        "overall": "非常满意",
        "efficiency": "满意",
        "service_level": "非常满意",
        "attitude": "非常满意",
    }
    phone = rate_on_phone(pages, case_no, id_number[-4:], levels, "在医院就能办，很方便")
    assert "感谢您的评价" in phone.locator(".thanks").inner_text()
    assert phone.locator("#rating-overall").inner_text().strip() == "非常满意"
    assert phone.locator("#rating-form").count() == 0  # 一事一评: no second form
    # The staff see it too.
    r = server.api("GET", f"/api/v1/ratings/cases/{case_no}", "clerk_a")
    assert r.json()["overall"] == 5 and r.json()["channel"] == "phone"


def test_a_bad_rating_shows_up_as_the_clerks_task(
    pages: Pages, server: Server, make_case: Any
) -> None:
    id_number = make_id(birth="19620717", seq=812)
    case_no = completed_case(server, make_case, id_number, "黄德明")
    levels = {
        "overall": "不满意",
        "efficiency": "不满意",
        "service_level": "基本满意",
        "attitude": "不满意",
    }
    phone = rate_on_phone(pages, case_no, id_number[-4:], levels, "等候时间太长")
    assert "感谢您的评价" in phone.locator(".thanks").inner_text()
    assert "整改" in phone.locator("#rating").inner_text()

    clerk = pages.signed_in("clerk_a")
    clerk.goto("/ratings")
    row = clerk.locator("#tasks tr", has_text=case_no)
    assert row.count() == 1 and "待整改" in row.inner_text()
    with clerk.expect_navigation():
        row.locator("a").click()
    assert "等候时间太长" in clerk.locator("#comment").inner_text()
    clerk.locator("#f-outcome").fill("已电话致歉并说明高峰期分流安排")
    with clerk.expect_navigation():
        clerk.locator("#form-follow_up button[type=submit]").click()
    assert "已电话致歉" in clerk.locator("#follow-ups").inner_text()
    clerk.locator("#form-rectify").locator("xpath=..").locator("summary").click()
    clerk.locator("#n-rectify").fill("高峰时段增开窗口")
    with clerk.expect_navigation():
        clerk.locator("#form-rectify button[type=submit]").click()
    assert clerk.locator("#task-state").inner_text().strip() == "已整改"
    # Another station's clerk never sees it.
    other = pages.signed_in("clerk_b")
    other.goto("/ratings")
    assert case_no not in other.locator("main").inner_text()
