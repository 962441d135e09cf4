"""The filing pages as a clerk and the bureau use them (server-rendered, CSRF forms)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from tests.filings.conftest import Api, file
from tests.web.conftest import Browser

NO = re.compile(r"/filings/(BA\d+)\?done=created")


def test_clerk_files_from_a_case_and_sees_it_everywhere(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    id_number = make_id()
    body = intake_body(
        service_code="inpatient_reimbursement",  # care elsewhere: the panel is shown
        materials=["id_card"],
        applicant={"id_number": id_number, "name": "周桂兰", "phone": "13700001111"},
    )
    case = api("clerk_f01", "POST", "/api/v1/cases", json=body).json()
    clerk = browser("clerk_f01")
    page = clerk.get(f"/cases/{case['case_no']}")
    assert "暂无该参保人的异地就医备案" in page.text
    assert f"/filings/new?case={case['case_no']}" in page.text
    form = clerk.get(f"/filings/new?case={case['case_no']}")
    assert form.status_code == 200 and 'value="周桂兰"' in form.text
    cities = clerk.htmx("GET", "/filings/cities?province=460000")
    assert "三亚市" in cities.text and "成都市" not in cities.text
    r = clerk.post(
        "/filings/new",
        {
            "id_number": id_number,
            "name": "周桂兰",
            "phone": "13700001111",
            "kind": "retired_elsewhere",
            "province": "460000",
            "city": "460200",
            "basis": "commitment",
            "request_key": "k-1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    found = NO.search(r.headers["location"])
    assert found
    no = found.group(1)
    shown = clerk.get(r.headers["location"])
    assert "异地安置退休人员" in shown.text and "三亚市" in shown.text and "有效" in shown.text
    assert id_number not in shown.text  # masked
    new_case = re.search(r'id="case-link">(\d+)<', shown.text)
    assert new_case
    case_page = clerk.get(f"/cases/{new_case.group(1)}")
    assert "已办结" in case_page.text and no in case_page.text
    # The person's record on the first case lists the filing too.
    assert no in clerk.get(f"/cases/{case['case_no']}").text
    # A lookup by the full number (audited) lists it from another station.
    other = browser("clerk_f02")
    found_page = other.post("/filings/lookup", {"id_number": id_number})
    assert found_page.status_code == 200 and no in found_page.text
    assert other.get(f"/filings/{no}").status_code == 404
    opened = other.post(f"/filings/{no}", {"id_number": id_number})
    assert opened.status_code == 200 and "承诺制备案自开始之日起6个月内" not in opened.text
    assert "2027-03-29" in opened.text  # locked until


def test_bad_form_shows_chinese_messages_by_the_fields(
    browser: Callable[[str], Browser], clean: Node
) -> None:
    clerk = browser("clerk_f01")
    r = clerk.post(
        "/filings/new",
        {
            "id_number": "123",
            "name": "张三",
            "phone": "13800138000",
            "kind": "referral",
            "province": "440000",
            "city": "510100",
            "basis": "proof",
            "start_date": "2026-13-01",
        },
    )
    assert r.status_code == 422
    assert "请修改标出的字段" in r.text or "请更正" in r.text
    assert "日期" in r.text
    r = clerk.post(
        "/filings/new",
        {
            "id_number": "123",
            "name": "张三",
            "phone": "13800138000",
            "kind": "referral",
            "province": "440000",
            "city": "510100",
            "basis": "proof",
        },
    )
    assert r.status_code == 422
    assert 'id="e-id_number"' in r.text and 'id="e-city"' in r.text and 'id="e-documents"' in r.text
    assert "该城市不属于所选省份" in r.text


def test_registry_change_cancel_and_export(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    f = file(api, end_date="2027-04-10")
    clean.clock.now = clean.clock.now.replace(year=2027, month=3, day=20)
    clerk = browser("clerk_f01")
    banner = clerk.get("/filings")
    assert f["filing_no"] in banner.text and "导出" not in banner.text
    assert re.search(r"1\s*个备案将在\s*30\s*天内到期", banner.text), banner.text
    r = clerk.post(
        f"/filings/{f['filing_no']}/change",
        {
            "version": "1",
            "reason": "延长",
            "kind": "referral",
            "basis": "proof",
            "documents": "转诊单、住院证明",
            "province": "510000",
            "city": "510100",
            "end_date": "2027-12-31",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    new = clerk.get(r.headers["location"])
    assert "已变更" in new.text and f["filing_no"] in new.text
    r = clerk.post(f"/filings/{f['filing_no']}/cancel", {"version": "2", "reason": "x"})
    assert r.status_code == 422  # a changed record cannot be cancelled
    for user in ("auditor", "admin"):
        assert browser(user).get("/filings").status_code == 403
    officer = browser("officer")
    assert "导出" in officer.get("/filings").text
    x = officer.get("/filings/export.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert clerk.get("/filings/export.csv").status_code == 403
    assert clerk.get("/filings?state=bogus").status_code == 422
    assert clerk.get("/filings?cursor=zzz").status_code == 422
    assert clerk.get("/filings/%00").status_code == 404
    assert clerk.get("/filings/new?case=%00").status_code == 422  # refused, naming the field
    assert clerk.get("/filings?id_number=%00").status_code == 422


def test_english_switch(api: Api, browser: Callable[[str], Browser], clean: Node) -> None:
    f = file(api, kind="stationed_work", province="440000", city="440300")
    clerk = browser("clerk_f01")
    clerk.client.cookies.set("lang", "en")
    page = clerk.get(f"/filings/{f['filing_no']}")
    assert "Stationed at work elsewhere" in page.text and "Chain" in page.text
    assert "Filings for treatment elsewhere" in clerk.get("/filings").text
