"""The lead pages as people use them: raise, attach, work, read — and see nothing of others'."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.api.helpers import make_id
from tests.conftest import Node
from yibao.attachments.models import Attachment
from yibao.audit.models import AuditRecord
from yibao.leads.models import Lead

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def _raise(b, **over: str) -> str:  # type: ignore[no-untyped-def]
    data = {
        "kind": "irregular_billing",
        "urgency": "normal",
        "description": "检验科对同一标本重复收取化验费。",
        **over,
    }
    r = b.post("/leads/new", data, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.match(r"/leads/([0-9a-f-]{36})\?done=raised", r.headers["location"])
    assert found
    return found.group(1)


def test_a_clerk_raises_attaches_and_a_supervisor_closes(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    page = clerk.get("/leads")
    assert (
        page.status_code == 200
        and "上报线索" in page.text
        and "重庆医科大学附属永川医院" in page.text
    )
    pid = make_id(birth="19580812")
    lid = _raise(clerk, patient_id_number=pid)
    page = clerk.get(f"/leads/{lid}?done=raised")
    assert "线索已上报" in page.text and pid not in page.text
    assert pid[:6] + "********" + pid[-4:] in page.text
    r = clerk.client.post(
        f"/leads/{lid}/attachments",
        data={"csrf_token": clerk.csrf},
        files={"file": ("票据.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = clerk.get(f"/leads/{lid}")
    assert "票据.png" in page.text
    href = re.search(rf'href="(/leads/{lid}/attachments/[0-9a-f-]+)"', page.text)
    assert href and clerk.get(href.group(1)).content == PNG
    # The author sees no supervisor buttons.
    assert 'name="action" value="verify"' not in page.text

    sup = browser("supervisor")
    page = sup.get("/leads")
    assert lid in page.text and "全部线索" in page.text
    page = sup.get(f"/leads/{lid}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version and 'value="verify"' in page.text
    r = sup.post(f"/leads/{lid}/act", {"action": "verify", "version": version.group(1), "note": ""})
    assert r.status_code == 422 and "请填写说明" in r.text
    r = sup.post(
        f"/leads/{lid}/act",
        {"action": "verify", "version": "1", "note": "调取住院记录"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    sup.post(
        f"/leads/{lid}/act",
        {
            "action": "intervene",
            "version": "2",
            "note": "现场核查属实",
            "actions_taken": "暂停该项目结算",
        },
    )
    r = sup.post(
        f"/leads/{lid}/act",
        {"action": "confirm", "version": "3", "note": "退回违规费用", "amount_recovered": "abc"},
    )
    assert r.status_code == 422 and "金额须为元" in r.text
    r = sup.post(
        f"/leads/{lid}/act",
        {
            "action": "confirm",
            "version": "3",
            "note": "退回违规费用",
            "amount_recovered": "3580.20",
        },
    )
    assert r.status_code == 200 and "查实办结" in r.text and "¥3,580.20" in r.text
    # A stale form gets 409 with the current state.
    r = sup.post(f"/leads/{lid}/act", {"action": "dismiss", "version": "1", "note": "x"})
    assert r.status_code in (409, 422)
    # The full ID number on the page is an audited read.
    r = sup.post(f"/leads/{lid}/reveal-id")
    assert r.status_code == 200 and pid in r.text
    with clean.runtime.db.session() as s:
        actions = set(s.scalars(select(AuditRecord.action).where(AuditRecord.object_id == lid)))
    assert {"lead.read", "lead.read_attachment", "lead.read_id_number", "lead.confirm"} <= actions


@pytest.mark.parametrize("user", ["clerk_f02", "master_f01", "clerk_m01"])
def test_others_see_a_404_page_and_an_empty_list(browser, user: str) -> None:  # type: ignore[no-untyped-def]
    lid = _raise(browser("clerk_f01"))
    b = browser(user)
    assert b.get(f"/leads/{lid}").status_code == 404
    assert b.get("/leads/not-a-uuid").status_code == 404
    assert lid not in b.get("/leads").text
    r = b.post(f"/leads/{lid}/note", {"note": "试探"})
    assert r.status_code == 404


@pytest.mark.parametrize("user", ["officer", "auditor", "admin"])
def test_roles_without_leads(browser, user: str) -> None:  # type: ignore[no-untyped-def]
    lid = _raise(browser("clerk_f01"))
    b = browser(user)
    assert b.get("/leads").status_code == 403  # the page, not any lead
    assert b.get(f"/leads/{lid}").status_code == 404
    assert 'href="/leads"' not in b.get("/account").text  # not in their navigation


def test_the_form_shows_errors_next_to_fields(browser) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    r = clerk.post("/leads/new", {"kind": "", "description": "", "patient_id_number": "12345"})
    assert r.status_code == 422
    assert 'id="e-kind"' in r.text and 'id="e-desc"' in r.text and 'id="e-pid"' in r.text
    page = browser("clerk_m01").get("/leads")
    assert "上报线索" not in page.text  # a mobile station raises no leads
    assert (
        browser("clerk_m01").post("/leads/new", {"kind": "other", "description": "x"}).status_code
        == 403
    )


def test_english_switch(browser) -> None:  # type: ignore[no-untyped-def]
    b = browser("supervisor")
    b.client.cookies.set("lang", "en")
    page = b.get("/leads?state=nope")
    assert page.status_code == 422 and "Supervision leads" in page.text


def test_a_lead_is_raised_with_its_evidence_in_one_go(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    big = PNG + b"\x00" * (300 * 1024)  # over the 256 KiB of ordinary forms, under 5 MB a file
    r = clerk.client.post(
        "/leads/new",
        data={
            "csrf_token": clerk.csrf,
            "kind": "phantom_inpatient",
            "urgency": "urgent",
            "description": "病区3床患者长期不在院，仍每日计费。",
        },
        files=[
            ("evidence", ("病区照片.png", big, "image/png")),
            ("evidence", ("费用清单.pdf", b"%PDF-1.7\n" + b"x" * 64, "application/pdf")),
        ],
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    lid = r.headers["location"].split("/")[2].split("?")[0]
    page = clerk.get(f"/leads/{lid}")
    assert "病区照片.png" in page.text and "费用清单.pdf" in page.text


def test_a_bad_evidence_file_keeps_the_lead_unraised(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    r = clerk.client.post(
        "/leads/new",
        data={
            "csrf_token": clerk.csrf,
            "kind": "card_misuse",
            "urgency": "normal",
            "description": "冒用他人医保卡就诊。",
        },
        files=[("evidence", ("run.exe", b"MZ\x90\x00binary", "application/octet-stream"))],
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "仅支持 JPG、PNG、WebP 图片和 PDF 文件" in r.text
    assert "冒用他人医保卡就诊。" in r.text  # what was typed is still in the form
    with clean.runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
