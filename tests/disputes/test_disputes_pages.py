"""The dispute pages: open with three representatives, record sessions, close — per role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import Node

FORM = {
    "subject": "异地转诊备案后报销比例争议",
    "description": "患者认为已转诊备案，应按备案比例报销。",
    "hospital_name": "重庆医科大学附属永川医院",
    "patient_name": "罗德明",
    "hospital_rep_name": "蒋红",
    "hospital_rep_title": "医保办主任",
    "hospital_rep_phone": "023-85381234",
    "insurer_rep_name": "张伟",
    "insurer_rep_title": "局经办",
    "insurer_rep_phone": "13600001111",
    "patient_rep_name": "罗小军",
    "patient_rep_title": "患者之子",
    "patient_rep_phone": "13512345678",
}


def _open(b, **over: str) -> str:  # type: ignore[no-untyped-def]
    r = b.post("/disputes/new", {**FORM, **over}, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.match(r"/disputes/([0-9a-f-]{36})\?done=opened", r.headers["location"])
    assert found
    return found.group(1)


def test_open_mediate_agree(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    assert "登记纠纷" in clerk.get("/disputes").text
    did = _open(clerk)
    page = clerk.get(f"/disputes/{did}?done=opened")
    assert (
        "纠纷已登记" in page.text and "135****5678" in page.text and "13512345678" not in page.text
    )
    assert "023-****1234" in page.text
    r = clerk.post(
        f"/disputes/{did}/session",
        {
            "session_date": "2026-09-29",
            "mediator": "李婷",
            "parties_present": ["hospital", "patient"],
            "statement_hospital": "医院称转诊手续未在出院前完成。",
            "statement_patient": "患者称入院当天已电话备案。",
            "mediator_notes": "核实备案时间后再议。",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = clerk.get(f"/disputes/{did}")
    assert "调解中" in page.text
    hospital = re.search(r'data-party="hospital"><h3>[^<]+</h3><p>([^<]+)</p>', page.text)
    notes = re.search(r'class="mediator-notes"><h3>[^<]+</h3><p>([^<]+)</p>', page.text)
    assert hospital and hospital.group(1) == "医院称转诊手续未在出院前完成。"
    assert notes and notes.group(1) == "核实备案时间后再议。"
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version
    v = version.group(1)
    r = clerk.post(f"/disputes/{did}/act", {"action": "agree", "version": v, "terms": ""})
    assert r.status_code == 422 and "请填写协议内容" in r.text
    r = clerk.post(
        f"/disputes/{did}/act",
        {"action": "agree", "version": v, "terms": "按备案比例补报差额"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = clerk.get(f"/disputes/{did}")
    assert "调解成功" in page.text and "按备案比例补报差额" in page.text
    assert "记录调解" not in page.text  # no more sessions


def test_form_errors_are_shown_by_field(browser) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    r = clerk.post(
        "/disputes/new", {**FORM, "subject": "", "patient_rep_phone": "12", "limit_days": "x"}
    )
    assert r.status_code == 422 and 'id="e-limit_days"' in r.text
    r = clerk.post("/disputes/new", {**FORM, "subject": "", "patient_rep_phone": "12"})
    assert r.status_code == 422
    assert 'id="e-subject"' in r.text and 'id="e-patient_rep_phone"' in r.text
    did = _open(clerk)
    r = clerk.post(f"/disputes/{did}/session", {"session_date": "someday", "mediator": "李婷"})
    assert r.status_code == 422 and "日期格式" in r.text
    r = clerk.post(
        f"/disputes/{did}/session",
        {
            "session_date": "2026-09-29",
            "mediator": "李婷",
            "parties_present": ["hospital"],
            "statement_patient": "x",
        },
    )
    assert r.status_code == 422 and 'id="e-session-statement_patient"' in r.text


@pytest.mark.parametrize(
    ("user", "status"),
    [("clerk_f02", 404), ("officer", 200), ("supervisor", 200), ("auditor", 403), ("admin", 403)],
)
def test_who_sees_a_dispute_page(browser, user: str, status: int) -> None:  # type: ignore[no-untyped-def]
    did = _open(browser("clerk_f01"))
    b = browser(user)
    assert b.get(f"/disputes/{did}").status_code == status
    listing = b.get("/disputes")
    if status == 200:
        assert did in listing.text
    elif status == 404:
        assert listing.status_code == 200 and did not in listing.text
    if user == "supervisor":
        assert "记录调解" not in b.get(f"/disputes/{did}").text  # reads only


def test_paging_links(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    for i in range(31):
        clean.clock.now += timedelta(minutes=1)
        _open(clerk, subject=f"纠纷 {i:02d}")
    page = clerk.get("/disputes")
    more = re.search(r'href="(/disputes\?cursor=[^"]+)"', page.text)
    assert more and "纠纷 30" in page.text and "纠纷 00" not in page.text
    assert "纠纷 00" in clerk.get(more.group(1).replace("&amp;", "&")).text


def test_a_complaint_case_shows_its_disputes(browser, client, login) -> None:  # type: ignore[no-untyped-def]
    from tests.api.helpers import intake_body

    r = client.post(
        "/api/v1/cases",
        json=intake_body(service_code="complaint", station_code="F01", materials=[]),
        headers=login("clerk_f01"),
    )
    case_no = r.json()["case_no"]
    clerk = browser("clerk_f01")
    page = clerk.get(f"/cases/{case_no}")
    assert "该投诉尚未登记纠纷调解" in page.text
    form = clerk.get(f"/disputes?case_no={case_no}")
    assert f'value="{case_no}"' in form.text
    did = _open(clerk, case_no=case_no)
    page = clerk.get(f"/cases/{case_no}")
    assert f"/disputes/{did}" in page.text
