"""At the window: the item picker, 当场办结 from the intake page, and what the receipt then says."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import intake_body, make_id
from tests.conftest import USERS, Node
from tests.web.conftest import Browser
from tests.web.test_printables import pdf_text
from yibao.cases.models import Case, CaseEvent

OPTION = re.compile(r'<option value="([a-z_]+)" data-keys="([^"]*)"')


def options(page: str) -> list[tuple[str, str]]:
    select = page[page.index('id="service_code"') : page.index("</select>")]
    return OPTION.findall(select)


def intake_form(b: Browser, **over: str) -> dict[str, str]:
    key = re.search(r'name="idempotency_key" value="([^"]+)"', b.get("/intake").text)
    assert key
    data = {
        "id_number": make_id(),
        "name": "张三",
        "phone": "13800138000",
        "service_code": "insurance_certificate",
        "channel": "window",
        "materials": "id_card",
        "note": "",
        "idempotency_key": key.group(1),
    }
    data.update(over)
    return data


def test_each_item_can_be_found_by_pinyin_initials_characters_or_code(
    client: TestClient, browser
) -> None:
    page = browser("clerk_f01").get("/intake").text
    keys = dict(options(page))
    assert "cbpz" in keys["insurance_certificate"]  # 参保信息查询、出具参保凭证
    assert keys["resident_enrolment"].startswith("cxjmcbdj|")  # 城乡居民参保登记
    assert "城乡居民参保登记" in keys["resident_enrolment"]
    assert "resident_enrolment" in keys["resident_enrolment"]
    # Progressive enhancement: the filter box is there but hidden until the script runs.
    assert re.search(r'<input type="search" id="item_filter" hidden tabindex="-1"', page)
    assert "/static/js/picker.js" in page
    script = client.get("/static/js/picker.js")
    assert script.status_code == 200 and "data-keys" in script.text


def test_a_clerks_most_used_items_come_first(
    client: TestClient, login, browser, clean: Node
) -> None:
    h = login("clerk_f01")
    for _ in range(2):
        body = intake_body(service_code="inpatient_reimbursement", materials=["id_card"])
        assert client.post("/api/v1/cases", json=body, headers=h).status_code == 201
    body = intake_body(service_code="chronic_disease_recognition", materials=["id_card"])
    assert client.post("/api/v1/cases", json=body, headers=h).status_code == 201
    page = browser("clerk_f01").get("/intake").text
    mine = [code for code, _k in options(page)]
    assert mine[:2] == ["inpatient_reimbursement", "chronic_disease_recognition"]
    assert page.count("★ 常办") == 2  # marked, so the order explains itself
    # The rest keep the catalogue order.
    assert mine[2:4] == ["resident_enrolment", "employee_enrolment"]
    # Another clerk's history is not mine: the catalogue order.
    other = [code for code, _k in options(browser("master_f01").get("/intake").text)]
    assert other[0] == "resident_enrolment"
    # Older than 90 days no longer counts.
    clean.clock.now += timedelta(days=91)
    later = [code for code, _k in options(browser("clerk_f01").get("/intake").text)]
    assert later[0] == "resident_enrolment"


def test_complete_on_the_spot_is_offered_only_where_it_may_be(client: TestClient, browser) -> None:
    b = browser("clerk_f01")

    def fragment(service: str, channel: str = "window") -> str:
        r = b.htmx("GET", f"/intake/materials?service_code={service}&channel={channel}")
        assert r.status_code == 200
        assert 'id="complete-now" hx-swap-oob="true"' in r.text
        return r.text

    assert 'name="complete_now" value="1"' in fragment("insurance_certificate")
    assert "受理并当场办结" in fragment("resident_enrolment")
    # A time limit, or a station that may not complete the item: not offered.
    assert 'name="complete_now"' not in fragment("outpatient_reimbursement")
    assert 'name="complete_now"' not in fragment("employee_enrolment")
    assert 'name="complete_now"' not in fragment("remote_care_filing", "online")
    # Nothing chosen yet: the slot is emptied.
    assert 'name="complete_now"' not in fragment("")
    # The first load has no item chosen, so no button yet.
    assert 'name="complete_now"' not in b.get("/intake").text


def test_take_and_complete_in_one_step_from_the_page(
    client: TestClient, browser, clean: Node
) -> None:
    b = browser("clerk_f01")
    r = b.post("/intake", data=intake_form(b, complete_now="1"), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?done=completed_at_intake")
    page = b.get(r.headers["location"]).text
    assert "已受理并当场办结" in page
    assert "<strong>已办结</strong>" in page
    assert "当场办结</small>" in page  # the timeline marks the completion
    case_no = r.headers["location"].split("/")[2].split("?")[0]
    receipt = b.get(f"/cases/{case_no}/receipt").text
    row = re.search(r'<tr id="completed"><th scope="row">办结时间</th><td>([^<]+)</td>', receipt)
    assert row and row.group(1) == "2026年9月29日 10:00（当场办结）"
    assert re.search(r"<th scope=\"row\">办结人</th><td>clerk_f01</td>", receipt)
    assert re.search(r"<th scope=\"row\">当前状态</th><td>已办结</td>", receipt)
    assert "承诺办结日期" not in receipt and "Promised date" not in receipt
    pdf = b.get(f"/cases/{case_no}/receipt.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert "办结时间2026年9月29日10:00" in text and "办结人clerk_f01" in text
    assert "当前状态已办结" in text and "承诺办结日期" not in text
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(CaseEvent.id))) == 2


def test_the_two_step_path_stays(client: TestClient, browser, clean: Node) -> None:
    b = browser("clerk_f01")
    r = b.post("/intake", data=intake_form(b), follow_redirects=False)
    assert r.headers["location"].endswith("?done=intake")
    page = b.get(r.headers["location"]).text
    assert "<strong>已受理</strong>" in page and 'value="complete"' in page
    case_no = r.headers["location"].split("/")[2].split("?")[0]
    receipt = b.get(f"/cases/{case_no}/receipt").text
    assert "承诺办结日期" in receipt and "办结人" not in receipt


def test_the_page_refuses_a_forged_one_step_for_an_item_with_a_limit(
    client: TestClient, browser, clean: Node
) -> None:
    b = browser("clerk_f01")
    form = intake_form(b, service_code="outpatient_reimbursement", complete_now="1")
    r = b.post("/intake", data=form)
    assert r.status_code == 422
    assert "只有即时办结的事项才能当场办结" in r.text
    assert 'value="张三"' in r.text  # what was typed is kept
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(Case.id))) == 0


def test_the_phone_channel_reads_phone_call_not_the_number_label(
    client: TestClient, browser, clean: Node
) -> None:
    b = browser("clerk_f01")
    form = intake_form(b, channel="phone")
    assert re.search(r'<option value="phone"[^>]*>电话</option>', b.get("/intake").text)
    r = b.post("/intake", data=form, follow_redirects=False)
    page = b.get(r.headers["location"]).text
    line = next(line for line in page.splitlines() if "<dt>" in line and " · 2026-09-29" in line)
    assert " · 电话 · " in line and "联系电话" not in line, line
    receipt = b.get(r.headers["location"].split("?")[0] + "/receipt").text
    assert "电话申请" in receipt
    rows = b.get("/queue").text
    assert '<small class="muted">电话</small>' in rows


def test_a_forward_names_the_unit_not_its_code(
    client: TestClient, login, browser, clean: Node
) -> None:
    h = login("clerk_f01")
    case = client.post(
        "/api/v1/cases",
        json=intake_body(service_code="outpatient_reimbursement", materials=["id_card"]),
        headers=h,
    ).json()
    r = client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": "forward", "version": case["version"], "to_unit": "bureau"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    unit, name = r.json()["unit"], r.json()["unit_name"]
    page = browser("clerk_f01").get(f"/cases/{case['case_no']}").text
    assert f"转办至: {name}" in page
    assert f"转办至: {unit}" not in page


RAW = re.compile(
    r"\b(YIBAO_\w+|BUREAU|clerk|station_master|bureau_officer|supervisor|auditor|admin"
    r"|received|in_progress|materials_pending|forwarded|completed|rejected|withdrawn"
    r"|holiday|workday|window|phone|online)\b"
)
SKIP = ("/api", "/static", "/healthz", "/docs", "/openapi", "/redoc", "/federation", "/lang")


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, also those of included routers (FastAPI keeps those nested)."""
    out: list[Any] = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        out.extend(_routes(nested.routes) if nested is not None else [route])
    return out


def _shown_text(page: str) -> str:
    import html

    page = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    shown = " ".join(re.findall(r'(?:title|placeholder|aria-label)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page)) + " " + shown


def test_no_raw_code_or_configuration_name_on_any_page(
    client: TestClient, login, browser, clean: Node
) -> None:
    h = login("clerk_f01")
    made = [
        client.post("/api/v1/cases", json=intake_body(channel=ch, **over), headers=h).json()
        for ch, over in (
            ("phone", {"service_code": "outpatient_reimbursement", "materials": ["id_card"]}),
            ("window", {"complete_now": True}),
            ("online", {}),
        )
    ]
    forward = {"action": "forward", "version": 1, "to_unit": "bureau"}
    r = client.post(f"/api/v1/cases/{made[0]['case_no']}/actions", json=forward, headers=h)
    assert r.status_code == 200, r.text
    paths = sorted(
        {
            route.path
            for route in _routes(client.app.routes)  # type: ignore[attr-defined]
            if "GET" in (getattr(route, "methods", None) or ())
            and "{" not in route.path
            and not route.path.startswith(SKIP)
            and route.path != "/logout"
        }
    )
    paths += [f"/cases/{c['case_no']}{tail}" for c in made for tail in ("", "/receipt")]
    # Pages with a parameter that showed codes: a station's inspections, a questionnaire.
    paths += ["/inspections/stations/BUREAU", "/questionnaires/policy-awareness"]
    paths += ["/overview/stations", "/overview/ratings", "/overview/trips"]  # the tabs
    seen: set[tuple[str, str]] = set()
    found: list[tuple[str, str, list[str]]] = []
    for user in ("clerk_f01", "master_f01", "officer", "supervisor", "auditor", "admin"):
        b = browser(user)
        for path in paths:
            r = b.get(path)
            assert r.status_code < 500, (user, path)
            if "text/html" not in r.headers.get("content-type", "") or r.status_code != 200:
                continue
            seen.add((user, path))
            text = _shown_text(r.text)
            for name, _role, _station in USERS:  # user names are shown, and some read as roles
                text = text.replace(name, "")
            if user == "admin" or (user == "auditor" and path in ("/", "/audit")):
                # The administrator manages stations by their codes (yibao user create --station);
                # the auditor's trail shows each object's id as it was recorded.
                text = text.replace("BUREAU", "")
            hits = sorted(set(RAW.findall(text)))
            if hits:
                i = text.find(hits[0])
                found.append((user, path, hits, text[max(0, i - 80) : i + 40]))
    assert found == [], "\n".join(map(str, found))
    # The pages that used to show a code: the transfer board (YIBAO_PEERS_FILE), a forwarded
    # case (BUREAU), a phone case and the receipts.
    assert ("officer", "/transfers") in seen
    assert ("clerk_f01", f"/cases/{made[0]['case_no']}") in seen
    assert ("clerk_f01", f"/cases/{made[1]['case_no']}/receipt") in seen
    assert ("supervisor", "/inspections/stations/BUREAU") in seen
    assert ("supervisor", "/overview/ratings") in seen  # the rating table of every station
    assert len(seen) > 20
