"""No full mobile number in any list or detail answer; the full number only through the
audited reveal, with a reason."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit.models import AuditRecord

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
PHONE = "13912345678"


def _walk_gets(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """Every JSON GET of the API without path parameters, as this user sees it."""
    out: dict[str, str] = {}
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        if "get" not in ops or "{" in path or not path.startswith("/api/"):
            continue
        r = client.get(path, headers=headers)
        if r.status_code == 200 and r.headers["content-type"].startswith("application/json"):
            out[path] = r.text
    return out


def test_no_full_mobile_in_lists_and_details(client: TestClient, login: Any) -> None:
    body = intake_body()
    body["applicant"]["phone"] = PHONE
    case = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert case.status_code == 201, case.text
    case_no = case.json()["case_no"]
    assert case.json()["applicant"]["phone"] == "139****5678"
    seen: dict[str, str] = {}
    for user in ("clerk_f01", "master_f01", "officer", "supervisor", "admin"):
        h = login(user)
        seen.update({f"{user} {k}": v for k, v in _walk_gets(client, h).items()})
        for path in (f"/api/v1/cases/{case_no}", f"/api/v1/cases/{case_no}/events"):
            seen[f"{user} {path}"] = client.get(path, headers=h).text
    assert any(case_no in v for v in seen.values())
    leaks = {k: MOBILE.findall(v) for k, v in seen.items() if MOBILE.search(v)}
    assert not leaks, leaks
    page = client.get("/api/v1/cases?limit=5", headers=login("clerk_f01")).json()
    assert all("****" in c["applicant"]["phone"] for c in page["items"])


def test_case_page_masks_and_reveals_with_a_reason(
    client: TestClient, clean: Node, login: Any, browser: Any
) -> None:
    body = intake_body()
    body["applicant"]["phone"] = PHONE
    case_no = client.post("/api/v1/cases", json=body, headers=login("clerk_f01")).json()["case_no"]
    b = browser("clerk_f01")
    page = b.get(f"/cases/{case_no}")
    assert page.status_code == 200 and PHONE not in page.text and "139****5678" in page.text
    assert "显示完整电话号码" in page.text
    no_reason = b.htmx("POST", f"/cases/{case_no}/reveal-phone", data={"reason": " "})
    assert no_reason.status_code == 422 and PHONE not in no_reason.text
    shown = b.htmx("POST", f"/cases/{case_no}/reveal-phone", data={"reason": "通知补正材料"})
    assert shown.status_code == 200 and PHONE in shown.text
    api = client.post(
        f"/api/v1/cases/{case_no}/applicant/phone",
        json={"reason": "回访"},
        headers=login("clerk_f01"),
    )
    assert api.status_code == 200 and api.json() == {"phone": PHONE}
    refused = client.post(
        f"/api/v1/cases/{case_no}/applicant/phone", json={}, headers=login("clerk_f01")
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "reason"
    other = client.post(
        f"/api/v1/cases/{case_no}/applicant/phone",
        json={"reason": "x"},
        headers=login("clerk_f02"),
    )
    assert other.status_code in (403, 404)
    with clean.runtime.db.session() as s:
        reads = s.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "case.read_phone", AuditRecord.object_id == case_no
            )
        ).all()
    assert sorted(r.detail.get("reason") for r in reads) == ["回访", "通知补正材料"]
