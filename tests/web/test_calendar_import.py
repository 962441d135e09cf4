"""Issue 10: the missing-year warning, and an import that recounts estimated due dates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tests.api.helpers import intake_body
from tests.conftest import FIXED_NOW, Node
from tests.web.conftest import Browser
from yibao.audit import guard
from yibao.audit.models import AuditRecord
from yibao.calendar.models import CalendarYear
from yibao.cases.models import Case, CaseEvent

EXAMPLE = (Path(__file__).resolve().parents[2] / "docs/examples/cn-2027-example.yaml").read_bytes()
WARNING = "2027 年的国务院节假日安排尚未导入"
LATE_DECEMBER = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)  # Monday 10:00 in Chongqing


@pytest.fixture
def december(clean: Node) -> Iterator[Node]:
    """The node's clock on 28 December 2026, 2027 not imported; both restored afterwards."""
    clean.clock.now = LATE_DECEMBER
    clean.runtime.invalidate()
    yield clean
    clean.clock.now = FIXED_NOW
    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test set-up")
        uow.session.execute(delete(CalendarYear).where(CalendarYear.year == 2027))
        uow.commit()
    clean.runtime.invalidate()


def _import(admin: Browser) -> str:
    r = admin.client.post(
        "/admin/calendar",
        data={"csrf_token": admin.csrf},
        files={"file": ("cn-2027.yaml", EXAMPLE, "text/yaml")},
    )
    assert r.status_code == 200, r.text
    return r.text


def test_warning_on_admin_page_and_dashboard_until_import(
    december: Node, browser: Callable[[str], Browser]
) -> None:
    admin, master = browser("admin"), browser("master_f01")
    assert WARNING in admin.get("/admin/calendar").text
    assert WARNING in master.get("/dashboard").text
    page = _import(admin)
    assert WARNING not in page
    assert "已按新的节假日安排重算 0 件" in page
    assert WARNING not in master.get("/dashboard").text


def test_no_warning_before_november(clean: Node, browser: Callable[[str], Browser]) -> None:
    assert clean.clock.now.month == 9
    assert "节假日安排尚未导入" not in browser("admin").get("/admin/calendar").text


def test_import_recounts_open_estimated_cases_only(
    december: Node,
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    browser: Callable[[str], Browser],
) -> None:
    h = login("clerk_f01")
    body = intake_body(service_code="outpatient_reimbursement_small", materials=["id_card"])
    running = client.post("/api/v1/cases", json=body, headers=h).json()
    # 5 working days from Mon 28 December: 29, 30, 31, (1/1 元旦 estimated off) 4, 5 January
    assert running["due_date"] == "2027-01-05"
    paused = client.post("/api/v1/cases", json=body, headers=h).json()
    r = client.post(
        f"/api/v1/cases/{paused['case_no']}/actions",
        json={
            "action": "request_materials",
            "version": paused["version"],
            "missing_materials": ["invoices", "cost_list", "medical_records"],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text

    page = _import(browser("admin"))
    assert "已按新的节假日安排重算 1 件" in page

    with december.runtime.db.session() as s:
        case = s.scalar(select(Case).where(Case.case_no == running["case_no"]))
        assert case is not None
        assert (case.due_date, case.due_estimated) == (date(2027, 1, 5), False)
        event = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        ).all()[-1]
        assert event.action == "recompute_due" and event.actor_name == "admin"
        assert event.detail["old_due_date"] == "2027-01-05"
        assert "2027" in (event.reason or "")
        kept = s.scalar(select(Case).where(Case.case_no == paused["case_no"]))
        assert kept is not None and kept.due_estimated and kept.remaining_days is not None
        audits = s.scalars(
            select(AuditRecord.object_id).where(AuditRecord.action == "case.recompute_due")
        ).all()
        assert audits == [running["case_no"]]
    shown = client.get(f"/api/v1/cases/{running['case_no']}", headers=h).json()
    assert shown["due_date"] == "2027-01-05" and shown.get("due_estimated") is False
