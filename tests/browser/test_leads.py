"""A hospital clerk raises a supervision lead with its evidence; only a supervisor works it.

Real Chromium against `yibao serve`: clerk_a (hospital station F01) raises the lead in the
form with a photo attached, a colleague at the same station gets the page of a missing lead,
and the supervisor verifies, intervenes and closes it as confirmed with the amount recovered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, Pages

if not CHROMIUM.exists():
    pytest.skip("browser journeys need Debian's Chromium", allow_module_level=True)
expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.xdist_group("browser")

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_lead_raised_with_evidence_is_worked_by_the_supervisor_only(
    pages: Pages, tmp_path: Path
) -> None:
    photo = tmp_path / "病区照片.png"
    photo.write_bytes(PNG)
    page: Any = pages.signed_in("clerk_a")
    page.goto("/leads")
    page.locator("#raise summary").click()
    page.select_option("#kind", "phantom_inpatient")
    page.select_option("#urgency", "urgent")
    page.locator("#description").fill("内科3病区12床患者连续三天不在院，仍按日计费。")
    page.set_input_files("#evidence", str(photo))
    with page.expect_navigation():
        page.get_by_role("button", name="提交线索").click()
    assert re.search(r"/leads/[0-9a-f-]{36}", page.url)
    lead_url = page.url.split("?")[0]
    expect(page.locator("main")).to_contain_text("病区照片.png")
    expect(page.locator("main")).to_contain_text("挂床")
    # The author sees no supervisor's steps.
    expect(page.get_by_role("button", name="开始核查")).to_have_count(0)

    colleague: Any = pages.signed_in("clerk_c")  # same hospital station, not the author
    response = colleague.goto(lead_url)
    assert response is not None and response.status == 404
    colleague.goto("/leads")
    expect(colleague.locator("main")).not_to_contain_text("内科3病区")

    sup: Any = pages.signed_in("supervisor")
    sup.goto("/leads")
    with sup.expect_navigation():
        sup.locator(f"main a[href='{urlsplit(lead_url).path}']").first.click()
    for action, extra in (
        ("verify", {}),
        ("intervene", {"#intervene-taken": "约谈科室主任，停止该床位计费并调取病历核查。"}),
        ("confirm", {"#confirm-amount": "1,234.50"}),
    ):
        sup.locator(f"details:has(input[name=action][value={action}]) summary").click()
        for selector, text in extra.items():
            sup.locator(selector).fill(text)
        sup.locator(f"#{action}-note").fill("已处理。")
        with sup.expect_navigation():
            sup.locator(f"form:has(input[name=action][value={action}]) button[type=submit]").click()
    expect(sup.locator("#amount")).to_have_text("¥1,234.50")
    expect(sup.locator("main")).to_contain_text("病区照片.png")
