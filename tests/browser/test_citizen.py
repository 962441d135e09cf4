"""The citizen on a phone (issue 10): the receipt's QR link, the tail typed into a form that
POSTs (never in a URL), where to go and whom to call, the next mobile visit, Chinese 404s."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, PASSWORD, YIBAO, Pages, Server, make_id

if not CHROMIUM.exists():
    pytest.skip(
        "browser journeys need Debian's Chromium at /usr/bin/chromium", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")

pytestmark = pytest.mark.xdist_group("browser")

PHONE = {"width": 390, "height": 844}  # iPhone 12/13/14 in CSS pixels
MOBILE_CLERK = "clerk_m01_citizen"


def watch_urls(page: Any) -> list[str]:
    """Every URL the page asks for (navigations, form posts, assets), in order."""
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    return seen


def assert_tail_not_in(urls: list[str], tail: str) -> None:
    for url in urls:
        parsed = urlparse(url)
        assert "id_tail" not in url and tail not in parsed.query, url


def fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll on {page.url}: scrollWidth {width}"


def enter_tail(page: Any, tail: str) -> None:
    page.locator("#id_tail").fill(tail)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_citizen_opens_the_qr_link_and_sees_where_to_go(
    pages: Pages, server: Server, make_case: Any
) -> None:
    id_number = make_id(birth="19520618", seq=731)
    case = make_case("clerk_a", id_number, "郑秀兰", materials=[])
    no, tail = case["case_no"], id_number[-4:]

    # The receipt's QR code carries only the case number.
    clerk = pages.signed_in("clerk_a")
    clerk.goto(f"/cases/{no}/receipt")
    link = clerk.locator("a[href*='/public/cases/']").first.get_attribute("href")
    assert link and link.endswith(f"/public/cases/{no}"), link

    phone = pages.new("citizen-phone", viewport=PHONE)
    urls = watch_urls(phone)
    phone.goto(link)
    fits(phone)
    assert phone.locator("form").first.get_attribute("method") == "post"
    enter_tail(phone, tail)
    assert phone.locator(".state").inner_text().strip() == "已受理"
    assert phone.url.endswith(f"/public/cases/{no}"), phone.url
    assert_tail_not_in(urls, tail)
    # The history holds the same address twice (the form, then its answer), never the tail.
    assert phone.evaluate("history.length") <= 3

    # Where to go and whom to call: the intake station's address, hours, a tel: link.
    assert phone.locator("#station-address").inner_text() == "重庆医科大学附属永川医院门诊大厅"
    assert "8:00–12:00" in phone.locator("#station-hours").inner_text()
    tel = phone.locator("#station-phone")
    assert tel.get_attribute("href") == "tel:02349000201"
    assert "023-49000201" in tel.inner_text()
    box = tel.bounding_box()
    assert box is not None and box["height"] >= 24, "the phone link is too small to tap"
    fits(phone)

    # Going back shows the form again, not the case (nothing to replay from the URL).
    phone.go_back()
    assert phone.url.endswith(f"/public/cases/{no}")
    assert_tail_not_in(urls, tail)


def _mobile_clerk(server: Server) -> dict[str, str]:
    """A clerk of the mobile station M01 (the shared fixtures have none)."""
    if MOBILE_CLERK not in server.tokens:
        out = subprocess.run(
            [
                *YIBAO,
                "user",
                "create",
                MOBILE_CLERK,
                "--role",
                "clerk",
                "--station",
                "M01",
                "--password-stdin",
            ],
            env=server.env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr
    return server.token(MOBILE_CLERK)


def test_waiting_for_materials_shows_the_next_mobile_visit(pages: Pages, server: Server) -> None:
    headers = _mobile_clerk(server)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the node's day, not UTC's
    visits = []
    for day in (today, today + timedelta(days=9)):
        r = server.api(
            "POST",
            "/api/v1/visits",
            "supervisor",
            json={"station_code": "M01", "village": "龙凤村", "date": day.isoformat()},
        )
        assert r.status_code == 201, r.text
        visits.append(r.json())
    id_number = make_id(birth="19440102", seq=732)
    r = httpx.post(
        f"{server.base_url}/api/v1/cases",
        headers=headers,
        timeout=10,
        json={
            "service_code": "insured_details_change",
            "station_code": "M01",
            "channel": "mobile",
            "applicant": {"id_number": id_number, "name": "蒋大山", "phone": "13800138000"},
            "materials": ["id_card"],
            "visit_id": visits[0]["id"],
        },
    )
    assert r.status_code == 201, r.text
    case = r.json()
    r = httpx.post(
        f"{server.base_url}/api/v1/cases/{case['case_no']}/actions",
        headers=headers,
        timeout=10,
        json={"action": "request_materials", "version": 1, "missing_materials": ["change_proof"]},
    )
    assert r.status_code == 200, r.text

    phone = pages.new("citizen-phone", viewport=PHONE)
    urls = watch_urls(phone)
    phone.goto(f"/public/cases/{case['case_no']}")
    enter_tail(phone, id_number[-4:])
    assert phone.locator(".state").inner_text().strip() == "待补正"
    visit = phone.locator("#next-visit").inner_text()
    assert visits[1]["date"] in visit and "龙凤村" in visit, visit
    assert "巡回" in phone.locator("#station-hours").inner_text()
    assert phone.locator("#station-phone").get_attribute("href") == "tel:02349000501"
    assert_tail_not_in(urls, id_number[-4:])
    fits(phone)


def test_an_unknown_public_page_is_chinese(pages: Pages) -> None:
    phone = pages.new("citizen-phone", viewport=PHONE)
    response = phone.goto("/public/no-such-page")
    assert response is not None and response.status == 404
    assert "页面不存在" in phone.locator("main").inner_text()
    assert "{" not in phone.locator("body").inner_text()  # not a JSON problem
    with phone.expect_navigation():
        phone.locator("a", has_text="返回办件查询").click()
    assert phone.url.endswith("/public/")
    assert phone.locator("#case_no").is_visible()
    fits(phone)
