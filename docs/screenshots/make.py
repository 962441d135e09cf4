"""Regenerate the README's screenshots from a running demo.

    make demo                                   # in one terminal
    .venv/bin/python docs/screenshots/make.py http://127.0.0.1:8000

Needs Playwright's Python package and Debian's Chromium at /usr/bin/chromium (override with
``CHROMIUM=/path``); nothing is downloaded. Staff pages are shot at 1366×768, the citizen page
at 375×740 (a phone), each as a PNG of the viewport. Nothing is written to the demo: the intake
form is filled in but not sent. Pages that do not answer 200 (e.g. not built yet) are skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from yibao.transfers.demo import synthetic_id

OUT = Path(__file__).resolve().parent
PASSWORD = "yibao-demo-2026"  # yibao.demo.generate.DEMO_PASSWORD
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 740}
# A made-up ID number with a correct check character.
# Synthetic, built at run time (never a literal full ID number in the source).
SAMPLE_ID = synthetic_id(101, region="500118")


def api_cases(base: str, username: str, **params: Any) -> list[dict[str, Any]]:
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=30,
    )
    token.raise_for_status()
    r = httpx.get(
        f"{base}/api/v1/cases",
        params={"limit": 50, **params},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def unrated_completed_case(base: str) -> dict[str, Any] | None:
    """A completed case of F01 nobody has rated yet (the citizen's rating form shows)."""
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": "clerk_f01", "password": PASSWORD},
        timeout=30,
    ).json()["access_token"]
    for case in api_cases(base, "clerk_f01", state="completed", station="F01"):
        r = httpx.get(
            f"{base}/api/v1/ratings/cases/{case['case_no']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if r.status_code == 404:
            return case
    return None


def pick_case(base: str) -> dict[str, Any]:
    """A case of F01 with a story: waiting for materials, else forwarded, else any open one."""
    for state in ("materials_pending", "forwarded", "in_progress", "received"):
        found = api_cases(base, "clerk_f01", state=state, station="F01")
        if found:
            return found[0]
    raise SystemExit("the demo has no open case at F01")


class Shooter:
    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.made: list[str] = []

    def page_as(self, username: str | None, viewport: dict[str, int] = DESKTOP) -> Any:
        ctx = self.browser.new_context(viewport=viewport, base_url=self.base, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        if username:
            page.goto("/login")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.press("#password", "Enter")
            if "/login" in page.url:
                raise SystemExit(f"cannot sign in as {username}: is this the demo?")
        return page

    def shot(
        self,
        page: Any,
        url: str | None,
        name: str,
        *,
        settle_ms: int = 300,
        element: str | None = None,
    ) -> None:
        if url is not None:
            response = page.goto(url)
            if response is None or response.status != 200:
                status = response.status if response else "no answer"
                print(f"skipped {name}: {url} answered {status}")
                page.context.close()
                return
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(settle_ms)  # charts animate in
        path = OUT / name
        if element:  # a printable: the sheet itself, QR code included
            # The sticky top bar would cover the sheet's head once it is scrolled into view.
            page.add_style_tag(content=".topbar { position: static; }")
            page.locator(element).screenshot(path=str(path), type="png")
        else:
            page.screenshot(path=str(path), type="png")
        self.made.append(f"{name} ({path.stat().st_size // 1024} KB)")
        page.context.close()


def main() -> None:
    base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000").rstrip("/")
    httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
    case = pick_case(base)
    no = case["case_no"]
    tail = case["applicant"]["id_number"][-4:]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        s = Shooter(browser, base)

        s.shot(s.page_as("clerk_f01"), "/queue", "queue.png")

        # Intake with the ID check and the materials checklist showing (not submitted).
        page = s.page_as("clerk_f01")
        page.goto("/intake")
        page.fill("#id_number", SAMPLE_ID)
        page.dispatch_event("#id_number", "input")
        page.locator("#idcheck .light-green").wait_for()
        page.fill("#name", "张三")
        page.fill("#phone", "13800138000")
        with page.expect_response(lambda r: "/intake/materials" in r.url):
            page.select_option("#service_code", "outpatient_reimbursement")
        page.locator("#materials input[name=materials]").first.wait_for()
        for code in ("id_card", "invoices"):
            page.check(f"input[name=materials][value={code}]")
        page.focus("input[name=materials][value=cost_list]")
        s.shot(page, None, "intake.png")

        s.shot(s.page_as("master_f01"), f"/cases/{no}", "case.png")
        s.shot(s.page_as(None, PHONE), f"/public/cases/{no}?id_tail={tail}", "public.png")
        s.shot(s.page_as("master_f01"), "/dashboard", "dashboard.png", settle_ms=1500)
        s.shot(s.page_as("supervisor"), "/overview", "overview.png", settle_ms=1500)
        s.shot(s.page_as("clerk_f01"), f"/cases/{no}/receipt", "receipt.png", element=".sheet")

        # Station work: a 备案 filled in at the hospital window (not sent), the citizen's rating
        # form on a phone, questionnaire results, the station master's four-in-place page.
        page = s.page_as("clerk_f01")
        page.goto("/filings/new")
        page.fill("#id_number", SAMPLE_ID)
        page.fill("#name", "张三")
        page.fill("#phone", "13800138000")
        page.select_option("#kind", "retired_elsewhere")
        with page.expect_response(lambda r: "/filings/cities" in r.url):
            page.select_option("#province", "460000")
        page.select_option("#city", "460200")
        page.check("input[name=basis][value=commitment]")
        s.shot(page, None, "filing.png")
        unrated = unrated_completed_case(base)
        if unrated is not None:
            tail4 = unrated["applicant"]["id_number"][-4:]
            url = f"/public/cases/{unrated['case_no']}?id_tail={tail4}"
            page = s.page_as(None, PHONE)
            page.goto(url)
            page.locator("form").last.scroll_into_view_if_needed()
            s.shot(page, None, "rating.png")
        s.shot(
            s.page_as("supervisor"),
            "/questionnaires/policy-evaluation/results",
            "questionnaire.png",
            settle_ms=1500,
        )
        s.shot(s.page_as("master_f01"), "/inspections/station", "station.png")
        browser.close()

    print("written to", OUT)
    for line in s.made:
        print("  " + line)


if __name__ == "__main__":
    main()
