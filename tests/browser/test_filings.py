"""A hospital-station clerk files a 备案 on the spot, in real Chromium against `yibao serve`.

The clerk signs in, opens the form, types the person and the terms (the city list follows
the province), submits once, and sees the filing, its completed case, and the filing listed
on the person's record (the case page's panel and the registry's lookup).
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


@pytest.fixture(scope="module")
def clerk_f01(server: Server) -> str:
    """The hospital station F01's clerk, created as an operator would."""
    done = subprocess.run(
        [
            *YIBAO,
            "user",
            "create",
            "clerk_f01",
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
    return "clerk_f01"


def test_hospital_clerk_files_on_the_spot(pages: Pages, server: Server, clerk_f01: str) -> None:
    id_number = make_id(birth="19500307", seq=611)
    page: Any = pages.signed_in(clerk_f01, fresh=True)
    page.goto("/filings")
    with page.expect_navigation():
        page.locator("main a[href='/filings/new']").click()
    assert page.url.endswith("/filings/new")
    assert page.evaluate("document.activeElement.id") == "id_number"
    page.keyboard.type(id_number)
    page.locator("#name").fill("蒋玉珍")
    page.locator("#phone").fill("13983001234")
    page.locator("#kind").select_option("retired_elsewhere")
    page.locator("#province").select_option("460000")
    # The city list follows the province (HTMX).
    expect(page.locator("#city option", has_text="三亚市")).to_have_count(1)
    page.locator("#city").select_option("460200")
    page.get_by_label("个人承诺").check()
    with page.expect_navigation():
        page.get_by_role("button", name="备案并办结").click()
    assert "/filings/BA" in page.url
    expect(page.locator("p.notice.ok")).to_contain_text("已即时办结")
    assert page.locator("#filing-state").inner_text() == "有效"
    body = page.locator("main").inner_text()
    assert "异地安置退休人员" in body and "三亚市" in body and "长期有效" in body
    assert id_number not in body, "the ID number is masked"
    filing_no = page.url.split("/filings/")[1].split("?")[0]

    # The case it created is completed, and the person's record lists the filing.
    with page.expect_navigation():
        page.locator("#case-link").click()
    assert page.locator("section h1 + p strong").inner_text().strip() == "已办结"
    panel = page.locator("section.filings-panel")
    expect(panel).to_contain_text(filing_no)
    expect(panel).to_contain_text("海南省 三亚市")

    # The registry finds the person by the full ID number.
    page.goto("/filings")
    page.locator("#lookup_id").fill(id_number)
    with page.expect_navigation():
        page.get_by_role("button", name="查询").click()
    expect(page.locator("#person")).to_be_visible()
    expect(page.locator("main")).to_contain_text(filing_no)

    r = server.api("POST", "/api/v1/filings/lookup", "officer", json={"id_number": id_number})
    assert [i["filing_no"] for i in r.json()["items"]] == [filing_no]
