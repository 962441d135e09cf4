"""The journeys people make, in real Chromium against a real ``yibao serve`` process.

A clerk takes a case with the keyboard alone and walks it to the bureau, the bureau completes
it and the citizen sees it done; two clerks collide on one case; a clerk of another station is
refused; a repeated submit makes one case; the queue's search and filters; the language
switch; the citizen page on a phone. Fixtures are in ``conftest.py`` (screenshots on failure).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, Pages, Server, make_id

if not CHROMIUM.exists():
    pytest.skip(
        "browser journeys need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium; `make test` installs it)",
        allow_module_level=True,
    )
expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is not installed"
).expect

# One server and one browser for the module: keep every journey on the same xdist worker.
pytestmark = pytest.mark.xdist_group("browser")

CASE_URL = re.compile(r"/cases/(\d+)(\?|$)")
ALL_MATERIALS = ("居民身份证", "医疗收费票据", "费用明细清单", "病历资料")


def case_no_of(page: Any) -> str:
    found = CASE_URL.search(page.url)
    assert found, f"not on a case page: {page.url}"
    return found.group(1)


def act_button(page: Any, action: str) -> Any:
    """The submit button of the form for one lifecycle action on the case page."""
    return page.locator(f"form:has(input[name=action][value={action}]) button[type=submit]")


def open_action(page: Any, action: str) -> Any:
    """Open the <details> of an action that needs input; return its form."""
    details = page.locator(f"details:has(input[name=action][value={action}])")
    details.locator("summary").click()
    return details.locator("form")


def state_of(page: Any) -> str:
    return str(page.locator("section h1 + p strong").inner_text()).strip()


def api_case(server: Server, case_no: str, username: str = "officer") -> dict[str, Any]:
    r = server.api("GET", f"/api/v1/cases/{case_no}", username)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


# ---------------------------------------------------------------- a. the whole journey


def test_clerk_to_bureau_to_citizen(pages: Pages, server: Server) -> None:
    """Keyboard-only intake → missing materials → notice → supplement → forward → bureau
    takes and completes → the citizen opens the receipt's link and sees 已办结."""
    id_number = make_id(birth="19530412", seq=101)  # 17th digit odd: male
    clerk = pages.signed_in("clerk_a", fresh=True)
    assert clerk.url.endswith("/queue")

    # -- intake, keyboard only
    clerk.goto("/intake")
    focused = clerk.evaluate("document.activeElement.id")
    assert focused == "id_number", "the ID number field should have the focus on arrival"
    clerk.keyboard.type(id_number)
    idcheck = clerk.locator("#idcheck")
    idcheck.get_by_text("1953-04-12").wait_for()
    assert "男" in idcheck.inner_text()
    clerk.keyboard.press("Tab")
    assert clerk.evaluate("document.activeElement.id") == "name"
    clerk.keyboard.type("王五")
    clerk.keyboard.press("Tab")
    assert clerk.evaluate("document.activeElement.id") == "phone"
    clerk.keyboard.type("13800138000")
    clerk.keyboard.press("Tab")
    assert clerk.evaluate("document.activeElement.id") == "service_code"
    options = clerk.eval_on_selector_all("#service_code option", "os => os.map(o => o.value)")
    assert "outpatient_reimbursement" in options
    for _ in range(options.index("outpatient_reimbursement")):
        clerk.keyboard.press("ArrowDown")
    assert clerk.input_value("#service_code") == "outpatient_reimbursement"
    # Every arrow press changes the item; the checklist ends up showing the last one.
    checklist = clerk.locator("#materials fieldset.checklist")
    expect(checklist).to_contain_text("10 个工作日")
    for m in ALL_MATERIALS:
        expect(checklist).to_contain_text(m)
    assert clerk.evaluate("document.activeElement.id") == "service_code"
    clerk.keyboard.press("Tab")  # channel
    assert clerk.evaluate("document.activeElement.id") == "channel"
    clerk.keyboard.press("Tab")  # first material: the ID card
    assert clerk.evaluate("document.activeElement.value") == "id_card"
    clerk.keyboard.press("Space")
    assert clerk.is_checked("input[name=materials][value=id_card]")
    with clerk.expect_navigation():
        clerk.keyboard.press("Enter")
    case_no = case_no_of(clerk)
    assert state_of(clerk) == "已受理"
    assert "已受理" in clerk.locator("p.notice.ok[role=status]").inner_text()

    # -- one-time notice of every missing material (the checklist comes pre-ticked)
    form = open_action(clerk, "request_materials")
    boxes = form.locator("input[name=missing_materials]")
    assert boxes.count() == 3
    for i in range(3):
        assert boxes.nth(i).is_checked()
    with clerk.expect_navigation():
        form.locator("button[type=submit]").click()
    assert state_of(clerk) == "待补正"
    missing = clerk.locator("dd.light-red").inner_text()
    assert all(m in missing for m in ALL_MATERIALS[1:]), missing

    # The case page links the notice (it opens in a new tab, to print).
    with clerk.context.expect_page() as opened:
        clerk.get_by_role("link", name="一次性告知书").click()
    notice = pages.track("notice", opened.value)
    notice.wait_for_load_state()
    assert notice.url.endswith(f"/cases/{case_no}/notice")
    sheet = notice.locator("table.doc tbody").inner_text()
    for m in ALL_MATERIALS[1:]:
        assert m in sheet, sheet
    assert "居民身份证" not in sheet
    assert case_no in notice.locator(".sheet").inner_text()
    notice.close()

    # -- supplement, forward to the bureau (a hospital station may not complete it)
    with clerk.expect_navigation():
        act_button(clerk, "supplement").click()
    assert state_of(clerk) == "办理中"
    assert act_button(clerk, "complete").count() == 0, "F01 may not complete a reimbursement"
    form = open_action(clerk, "forward")
    form.locator("#to_unit").select_option("BUREAU")
    with clerk.expect_navigation():
        form.locator("button[type=submit]").click()
    assert state_of(clerk) == "已转办"

    # -- the bureau officer finds it in the queue, takes it and completes it
    officer = pages.signed_in("officer", fresh=True)
    assert officer.url.endswith("/queue")
    row_link = officer.locator(f"#rows a[href='/cases/{case_no}']")
    row_link.wait_for()
    with officer.expect_navigation():
        row_link.click()
    assert state_of(officer) == "已转办"
    with officer.expect_navigation():
        act_button(officer, "take").click()
    assert state_of(officer) == "办理中"
    with officer.expect_navigation():
        act_button(officer, "complete").click()
    assert state_of(officer) == "已办结"
    assert api_case(server, case_no)["state"] == "completed"

    # -- the citizen scans the receipt's QR code: no login, the ID tail, 已办结
    receipt = pages.another_tab(clerk, "receipt")
    receipt.goto(f"/cases/{case_no}/receipt")
    link = receipt.locator("a[href*='/public/cases/']").first.get_attribute("href")
    assert link and link.endswith(f"/public/cases/{case_no}"), link
    assert receipt.locator("svg").count() >= 1, "the receipt should carry a QR code"
    citizen = pages.new("citizen", viewport={"width": 375, "height": 667})
    citizen.goto(link)
    citizen.locator("#id_tail").fill(id_number[-4:])
    with citizen.expect_navigation():
        citizen.keyboard.press("Enter")
    assert citizen.locator(".state").inner_text().strip() == "已办结"
    body = citizen.locator("main").inner_text()
    assert id_number not in body and "王五" not in body  # masked name only
    assert "王*" in body


# ---------------------------------------------------------------- b. two clerks, one case


def test_second_clerk_sees_the_conflict(pages: Pages, server: Server, make_case: Any) -> None:
    case = make_case("clerk_a", make_id(birth="19620815", seq=202), "赵六")
    no = case["case_no"]
    first = pages.signed_in("clerk_a")
    second = pages.signed_in("clerk_c")
    first.goto(f"/cases/{no}")
    second.goto(f"/cases/{no}")
    stale_reject = pages.another_tab(second, "clerk_c-2")
    stale_reject.goto(f"/cases/{no}")
    assert state_of(second) == "已受理"

    with first.expect_navigation():
        act_button(first, "start").click()
    assert state_of(first) == "办理中"

    # The second clerk, on the stale page, starts it too: 409, the current state, nothing saved.
    with second.expect_navigation():
        act_button(second, "start").click()
    notice = second.locator("p.notice.warn[role=alert]")
    assert notice.is_visible()
    assert "他人已更新" in notice.inner_text()
    assert state_of(second) == "办理中"
    assert second.locator("input[name=version]").first.get_attribute("value") == str(
        api_case(server, no)["version"]
    )

    # And on another stale tab, rejects it with a reason: refused the same way.
    form = open_action(stale_reject, "reject")
    form.locator("textarea[name=reason]").fill("材料不符")
    with stale_reject.expect_navigation():
        form.locator("button[type=submit]").click()
    assert stale_reject.locator("p.notice.warn[role=alert]").is_visible()
    assert state_of(stale_reject) == "办理中"

    now = api_case(server, no)
    assert now["state"] == "in_progress"
    events = server.api("GET", f"/api/v1/cases/{no}/events", "officer").json()
    items = events["items"] if isinstance(events, dict) else events
    assert [e["action"] for e in items][-1] == "start"
    assert len(items) == 2, items


# ---------------------------------------------------------------- c. another station's case


def test_other_station_cannot_open_the_case(pages: Pages, make_case: Any) -> None:
    id_number = make_id(birth="19700302", seq=303)
    case = make_case("clerk_a", id_number, "钱七")
    no = case["case_no"]
    outsider = pages.signed_in("clerk_b")
    for url in (f"/cases/{no}", f"/cases/{no}/receipt", f"/cases/{no}/notice"):
        response = outsider.goto(url)
        assert response is not None and response.status == 404, (url, response and response.status)
        html = outsider.content()
        assert "钱七" not in html and "钱*" not in html, url
        assert id_number[-4:] not in html and id_number[:6] + "*" not in html, url
    outsider.goto(f"/cases/{no}")
    assert "未找到" in outsider.locator("main").inner_text()


# ---------------------------------------------------------------- d. repeated submit


def _fill_intake(page: Any, id_number: str, name: str) -> None:
    page.goto("/intake")
    page.locator("#id_number").fill(id_number)
    page.locator("#name").fill(name)
    page.locator("#phone").fill("13900139000")
    with page.expect_response(lambda r: "/intake/materials" in r.url):
        page.locator("#service_code").select_option("insurance_certificate")
    page.locator("input[name=materials][value=id_card]").check()


def _cases_with_tail(server: Server, tail: str) -> list[dict[str, Any]]:
    r = server.api("GET", f"/api/v1/cases?id_tail={tail}&limit=50", "officer")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_repeated_submit_makes_one_case(pages: Pages, server: Server) -> None:
    clerk = pages.signed_in("clerk_a")

    # A double click on the submit button.
    id1 = make_id(birth="19810101", seq=411)
    _fill_intake(clerk, id1, "孙八")
    with clerk.expect_navigation():
        clerk.locator("#intake button[type=submit]").dblclick()
    case_no_of(clerk)
    assert len(_cases_with_tail(server, id1[-4:])) == 1

    # Enter pressed twice in a field.
    id2 = make_id(birth="19820202", seq=423)
    _fill_intake(clerk, id2, "周九")
    clerk.locator("#phone").focus()
    with clerk.expect_navigation():
        clerk.keyboard.press("Enter")
        clerk.keyboard.press("Enter")
    case_no_of(clerk)
    assert len(_cases_with_tail(server, id2[-4:])) == 1

    # The same form sent twice at once (a retry, a browser without the page's guard): it
    # carries one idempotency key, so both answers lead to the same, single case.
    id3 = make_id(birth="19830303", seq=435)
    _fill_intake(clerk, id3, "吴十")
    finals = clerk.evaluate(
        """async () => {
            const form = document.getElementById('intake');
            const send = () => fetch('/intake', {method: 'POST', body: new FormData(form)});
            const answers = await Promise.all([send(), send()]);
            return answers.map(r => [r.status, r.url]);
        }"""
    )
    assert [status for status, _url in finals] == [200, 200], finals
    assert finals[0][1] == finals[1][1] and CASE_URL.search(finals[0][1]), finals
    assert len(_cases_with_tail(server, id3[-4:])) == 1


# ---------------------------------------------------------------- e. queue search and filters


def test_queue_search_and_overdue_filter(pages: Pages, server: Server, make_case: Any) -> None:
    # A tail ending in X: no case number (digits only) can end with it by chance.
    zs_id = make_id(birth="19550505", seq=518)
    assert zs_id.endswith("X")
    zs = make_case("clerk_c", zs_id, "张三")
    ls = make_case("clerk_c", make_id(birth="19560606", seq=529), "李四")
    past = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    late = make_case("clerk_c", make_id(birth="19570707", seq=531), "郑晚", captured_at=past)
    assert late["state"] == "received"

    clerk = pages.signed_in("clerk_a")
    rows = clerk.locator("#rows")
    links = rows.locator("a[href^='/cases/']")
    for c in (zs, ls, late):
        rows.locator(f"a[href='/cases/{c['case_no']}']").wait_for()

    # Typing filters the rows as you type (HTMX); the expectations retry until the swap.
    clerk.locator("#q").fill("zs")
    expect(rows).not_to_contain_text("李四")
    expect(rows).to_contain_text("张三")
    expect(rows).not_to_contain_text("郑晚")

    clerk.locator("#q").fill(zs_id[-4:])
    expect(links).to_have_count(1)
    expect(links).to_have_text(zs["case_no"])

    clerk.locator("#q").fill("")
    expect(rows).to_contain_text("李四")

    clerk.locator("#overdue").check()
    expect(rows).not_to_contain_text(zs["case_no"])
    expect(rows).to_contain_text(late["case_no"])
    expect(rows).to_contain_text("已超期")
    clerk.locator("#overdue").uncheck()
    expect(rows).to_contain_text(zs["case_no"])


# ---------------------------------------------------------------- f. language switch


def test_english_switch_and_back(pages: Pages) -> None:
    clerk = pages.signed_in("clerk_a")
    clerk.goto("/intake")
    assert clerk.locator("html").get_attribute("lang") == "zh-CN"
    assert clerk.locator("h1").inner_text().startswith("受理")
    assert clerk.locator("label[for=id_number]").inner_text() == "身份证号"
    with clerk.expect_navigation():
        clerk.get_by_role("link", name="English").click()
    assert clerk.url.endswith("/intake")
    assert clerk.locator("html").get_attribute("lang") == "en"
    assert clerk.locator("h1").inner_text().startswith("Intake")
    assert clerk.locator("label[for=id_number]").inner_text() == "ID number"
    assert clerk.get_by_role("link", name="Queue").count() == 1
    clerk.goto("/queue")
    assert clerk.locator("h1").inner_text().startswith("My queue")
    with clerk.expect_navigation():
        clerk.get_by_role("link", name="中文").click()
    assert clerk.locator("html").get_attribute("lang") == "zh-CN"
    assert clerk.locator("h1").inner_text().startswith("我的待办")


# ---------------------------------------------------------------- g. the phone page


def test_citizen_page_fits_a_phone(pages: Pages, make_case: Any, tmp_path: Path) -> None:
    id_number = make_id(birth="19480909", seq=607)
    case = make_case("clerk_a", id_number, "欧阳明月", materials=[])
    no = case["case_no"]
    phone = pages.new("citizen-phone", viewport={"width": 375, "height": 667})

    def fits() -> None:
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"horizontal scroll on {phone.url}: scrollWidth {width}"

    phone.goto("/public/")
    fits()
    phone.goto(f"/public/cases/{no}")
    fits()
    phone.locator("#id_tail").fill("0000" if id_number[-4:] != "0000" else "1111")
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert "未找到" in phone.locator("main").inner_text()
    fits()
    phone.goto(f"/public/cases/{no}?id_tail={id_number[-4:]}")
    assert phone.locator(".state").inner_text().strip() == "已受理"
    fits()
