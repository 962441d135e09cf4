"""The clerk's pages as a browser uses them: queue, intake and the case page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from tests.web.conftest import Browser
from yibao.audit.models import AuditRecord
from yibao.cases.models import Case


def api_case(client: TestClient, login, **over) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/cases", json=intake_body(**over), headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    return r.json()


def intake_form(b: Browser, **over: str) -> dict[str, str]:
    key = re.search(r'name="idempotency_key" value="([^"]+)"', b.get("/intake").text)
    assert key
    data = {
        "id_number": make_id(),
        "name": "张三",
        "phone": "13800138000",
        "service_code": "outpatient_reimbursement",
        "channel": "window",
        "materials": "id_card",
        "note": "",
        "idempotency_key": key.group(1),
    }
    data.update(over)
    return data


def test_intake_by_form_lands_on_case_page(client: TestClient, browser, clean: Node) -> None:
    b = browser("clerk_f01")
    r = b.post("/intake", data=intake_form(b), follow_redirects=False)
    assert r.status_code == 303
    page = b.get(r.headers["location"])
    assert "已受理" in page.text and "零星报销" in page.text
    assert "2026-10-19" in page.text  # 10 working days across the National Day week
    # A hospital station may not pay reimbursements: no 办结 button, but 转办.
    assert 'value="complete"' not in page.text and 'value="forward"' in page.text


def test_repeated_submit_makes_one_case(client: TestClient, browser, clean: Node) -> None:
    b = browser("clerk_f01")
    data = intake_form(b)
    first = b.post("/intake", data=data, follow_redirects=False)
    second = b.post("/intake", data=data, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(Case.id))) == 1


def test_intake_errors_next_to_fields_in_chinese(client: TestClient, browser, clean: Node) -> None:
    b = browser("clerk_f01")
    bad_id = make_id(seq=3)[:-1] + ("1" if make_id(seq=3)[-1] != "1" else "2")
    r = b.post("/intake", data=intake_form(b, id_number=bad_id, phone="123"))
    assert r.status_code == 422
    assert "校验码" in r.text  # the ID error, in Chinese
    assert re.search(r'id="phone"[^>]*aria-invalid="true"', r.text)
    assert 'value="张三"' in r.text  # what was typed is kept
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(Case.id))) == 0


def test_id_check_as_typed(client: TestClient, browser) -> None:
    b = browser("clerk_f01")
    ok = b.htmx("POST", "/intake/check-id", data={"id_number": make_id(birth="19530412", seq=1)})
    assert "1953-04-12" in ok.text and "男" in ok.text
    bad = b.htmx("POST", "/intake/check-id", data={"id_number": "50011819531332001X"})
    assert "出生日期" in bad.text or "日期" in bad.text


def test_service_picker_only_offers_what_the_station_accepts(client: TestClient, browser) -> None:
    village = browser("clerk_v01").get("/intake").text
    hospital = browser("clerk_f01").get("/intake").text
    assert 'value="supervision_lead"' in hospital
    assert 'value="supervision_lead"' not in village


def test_queue_shows_my_unit_and_searches(client: TestClient, login, browser) -> None:
    mine = api_case(
        client, login, applicant={"id_number": make_id(), "name": "张三", "phone": "13800138000"}
    )
    other = client.post(
        "/api/v1/cases", json=intake_body(station_code="F02"), headers=login("clerk_f02")
    ).json()
    b = browser("clerk_f01")
    page = b.get("/queue").text
    assert mine["case_no"] in page and other["case_no"] not in page
    assert mine["case_no"] in b.htmx("GET", "/queue/rows?q=zs").text
    assert mine["case_no"] not in b.htmx("GET", "/queue/rows?q=ls").text
    tail = mine["applicant"]["id_number"][-4:]
    assert mine["case_no"] in b.htmx("GET", f"/queue/rows?q={tail}").text
    assert mine["case_no"] in b.htmx("GET", "/queue/rows?q=张").text


def test_forwarded_case_appears_in_target_queue(client: TestClient, login, browser) -> None:
    case = api_case(client, login)
    client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": "forward", "version": 1, "to_unit": "bureau"},
        headers=login("clerk_f01"),
    )
    officer = browser("officer")
    assert case["case_no"] in officer.get("/queue").text
    assert case["case_no"] not in browser("clerk_f01").get("/queue").text  # no longer theirs


def test_actions_from_the_page_and_stale_page_conflict(client: TestClient, login, browser) -> None:
    case = api_case(client, login)
    a, b = browser("clerk_f01"), browser("master_f01")
    r = a.post(
        f"/cases/{case['case_no']}/act",
        data={"action": "start", "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    stale = b.post(
        f"/cases/{case['case_no']}/act",
        data={"action": "reject", "version": "1", "reason": "不符合条件"},
    )
    assert stale.status_code == 409
    assert "他人已更新" in stale.text and "办理中" in stale.text
    now = client.get(f"/api/v1/cases/{case['case_no']}", headers=login("clerk_f01")).json()
    assert now["state"] == "in_progress" and now["version"] == 2


def test_reason_and_missing_materials_errors_on_the_page(
    client: TestClient, login, browser
) -> None:
    case = api_case(client, login, service_code="outpatient_reimbursement", materials=["id_card"])
    b = browser("clerk_f01")
    r = b.post(
        f"/cases/{case['case_no']}/act", data={"action": "reject", "version": "1", "reason": " "}
    )
    assert r.status_code == 422 and "请填写原因" in r.text
    r = b.post(
        f"/cases/{case['case_no']}/act",
        data={"action": "request_materials", "version": "1", "missing_materials": "invoices"},
    )
    assert r.status_code == 422 and "一次性告知" in r.text


def test_other_station_gets_404_page(client: TestClient, login, browser) -> None:
    case = api_case(client, login)
    r = browser("clerk_f02").get(f"/cases/{case['case_no']}")
    assert r.status_code == 404
    assert case["applicant"]["name"] not in r.text


def test_full_id_button_only_for_allowed_roles_and_audited(
    client: TestClient, login, browser, clean: Node
) -> None:
    case = api_case(client, login)
    clerk = browser("clerk_f01")
    assert "显示完整号码" not in clerk.get(f"/cases/{case['case_no']}").text
    assert clerk.htmx("POST", f"/cases/{case['case_no']}/reveal-id").status_code == 403
    master = browser("master_f01")
    assert "显示完整号码" in master.get(f"/cases/{case['case_no']}").text
    full = master.htmx("POST", f"/cases/{case['case_no']}/reveal-id").text
    assert re.search(r"\d{17}[\dX]", full)
    with clean.runtime.db.session() as s:
        n = s.scalar(
            select(func.count(AuditRecord.id)).where(AuditRecord.action == "case.read_id_number")
        )
    assert n == 1


def test_supervisor_reads_without_buttons_and_admin_is_refused(
    client: TestClient, login, browser
) -> None:
    case = api_case(client, login)
    page = browser("supervisor").get(f"/cases/{case['case_no']}")
    assert page.status_code == 200 and 'name="action"' not in page.text
    admin = browser("admin")
    assert admin.get(f"/cases/{case['case_no']}").status_code == 403
    assert admin.get("/queue").status_code == 403


def test_overdue_badge_in_queue(client: TestClient, login, browser, clean: Node) -> None:
    case = api_case(client, login)  # instant: due today
    clean.clock.now = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    rows = browser("clerk_f01").htmx("GET", "/queue/rows?overdue=1").text
    assert case["case_no"] in rows and "已超期" in rows
