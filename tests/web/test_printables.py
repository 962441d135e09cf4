"""Printed documents: the intake receipt and the one-time notice, as HTML pages and PDFs."""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from yibao.cases.printables import qr_svg

MISSING = {
    "invoices": "医疗收费票据",
    "cost_list": "费用明细清单",
    "medical_records": "病历资料（诊断证明、检查报告等）",
}


def pdf_text(body: bytes) -> str:
    """All text of a PDF with whitespace removed (lines may wrap anywhere in CJK text)."""
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in reader.pages))


def pending_case(client: TestClient, login: Any, id_number: str) -> dict[str, Any]:
    """A reimbursement taken at F01 with only the ID card, then asked for the other three."""
    clerk = login("clerk_f01")
    body = intake_body(
        service_code="outpatient_reimbursement",
        materials=["id_card"],
        applicant={"id_number": id_number, "name": "张三丰", "phone": "13800138000"},
    )
    r = client.post("/api/v1/cases", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    case = r.json()
    r = client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={
            "action": "request_materials",
            "version": case["version"],
            "missing_materials": list(MISSING),
        },
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_receipt_page_shows_number_promised_date_and_qr(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    full_id = make_id()
    case = pending_case(client, login, full_id)
    no = case["case_no"]
    assert case["due_date"] == "2026-10-19"
    page = browser("clerk_f01").get(f"/cases/{no}/receipt")
    assert page.status_code == 200, page.text
    html = page.text
    assert no in html
    assert "2026年10月19日" in html and "承诺办结日期" in html
    assert "补正期间暂停计时" in html  # the case is waiting for materials
    assert "重庆市永川区医疗保障局" in html and "重庆医科大学附属永川医院门诊大厅" in html
    url = f"http://testserver/public/cases/{no}"
    svg = re.search(r"<svg[^>]*class=\"qr\".*?</svg>", html, re.S)
    assert svg is not None and f"<title>{url}</title>" in svg.group(0)
    assert f'href="{url}"' in html
    assert "data-print" in html and "noprint" in html
    # The A5 @page rule lives in the page's stylesheet (no inline <style> under the CSP).
    assert "css/page/print-receipt.css" in html
    assert full_id not in html
    assert full_id[:6] + "********" + full_id[-4:] in html
    assert "张**" in html and "张三丰" not in html
    assert "医疗收费票据" in html  # still missing
    assert page.headers["cache-control"] == "no-store"


def test_receipt_pdf_is_chinese_and_masked(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    full_id = make_id()
    no = pending_case(client, login, full_id)["case_no"]
    r = browser("clerk_f01").get(f"/cases/{no}/receipt.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'inline; filename="receipt-{no}.pdf"'
    assert r.content.startswith(b"%PDF")
    text = pdf_text(r.content)
    assert "受理回执" in text and no in text
    assert "重庆市永川区医疗保障局" in text
    assert "2026年10月19日" in text
    assert f"http://testserver/public/cases/{no}" in text
    assert full_id not in text and full_id[-4:] in text


def test_notice_lists_every_missing_material(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    full_id = make_id()
    no = pending_case(client, login, full_id)["case_no"]
    b = browser("clerk_f01")
    page = b.get(f"/cases/{no}/notice")
    assert page.status_code == 200, page.text
    for name in MISSING.values():
        assert name in page.text
    assert "一次性告知书" in page.text and "补正期间不计时" in page.text
    assert "以上共3项" in page.text
    assert "css/page/print-notice.css" in page.text and "data-print" in page.text
    assert f"http://testserver/public/cases/{no}" in page.text
    assert full_id not in page.text

    r = b.get(f"/cases/{no}/notice.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'inline; filename="notice-{no}.pdf"'
    assert r.content.startswith(b"%PDF")
    text = pdf_text(r.content)
    assert no in text and "一次性告知书" in text
    for name in MISSING.values():
        assert name in text
    assert "补正期间不计时" in text and "以上共3项" in text
    assert "剩余的10个工作日" in text  # 10 working days were left when the clock stopped
    assert (
        "经办人：" in text
        and "签字：" in text
        and "经办机构（盖章）" in text
        and "申请人签收" in text
    )
    assert full_id not in text


def test_notice_stays_printable_after_supplement(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    case = pending_case(client, login, make_id())
    no = case["case_no"]
    r = client.post(
        f"/api/v1/cases/{no}/actions",
        json={"action": "supplement", "version": case["version"]},
        headers=login("clerk_f01"),
    )
    assert r.status_code == 200, r.text
    b = browser("clerk_f01")
    page = b.get(f"/cases/{no}/notice")
    assert page.status_code == 200
    for name in MISSING.values():
        assert name in page.text
    assert "本件为补打" in page.text
    text = pdf_text(b.get(f"/cases/{no}/notice.pdf").content)
    assert all(name in text for name in MISSING.values()) and "本件为补打" in text


def test_no_notice_for_a_case_never_asked_for_materials(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    no = r.json()["case_no"]
    b = browser("clerk_f01")
    assert b.get(f"/cases/{no}/receipt").status_code == 200
    assert b.get(f"/cases/{no}/notice").status_code == 404
    assert b.get(f"/cases/{no}/notice.pdf").status_code == 404


def test_clerk_of_another_station_gets_404(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    full_id = make_id()
    no = pending_case(client, login, full_id)["case_no"]
    other = browser("clerk_f02")
    for path in ("receipt", "receipt.pdf", "notice", "notice.pdf"):
        r = other.get(f"/cases/{no}/{path}")
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert full_id[-4:] not in r.text and "张" not in r.text
    assert other.get("/cases/20260929000000/receipt").status_code == 404  # unknown: the same
    # The whole agency is the bureau officer's; the auditor sees no case data at all.
    assert browser("officer").get(f"/cases/{no}/notice.pdf").status_code == 200
    assert browser("auditor").get(f"/cases/{no}/receipt").status_code == 403


def test_signed_out_goes_to_login(client: TestClient, login: Any, clean: Node) -> None:
    no = pending_case(client, login, make_id())["case_no"]
    r = client.get(f"/cases/{no}/receipt.pdf", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_english_labels_on_the_page(
    client: TestClient, login: Any, browser: Any, clean: Node
) -> None:
    no = pending_case(client, login, make_id())["case_no"]
    b = browser("clerk_f01")
    b.get("/lang/en?next=/account")
    page = b.get(f"/cases/{no}/notice").text
    assert "One-time notice" in page and "Medical receipts" in page and "2026-09-29" in page
    assert "These 3 items are every material" in page


def test_qr_svg_is_inline_and_names_its_target() -> None:
    url = "https://yibao.example/public/cases/202609291234567"
    svg = qr_svg(url)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<?xml" not in svg
    assert f"<title>{url}</title>" in svg and 'role="img"' in svg
