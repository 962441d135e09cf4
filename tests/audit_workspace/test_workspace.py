"""The auditor's workspace: search, one record, the chain, export and archive (both backends)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import Node
from yibao.audit.queries import local_bounds
from yibao.audit.service import record


def _records(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/audit/records", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _today(node: Node) -> str:
    from yibao.db import utcnow

    return utcnow().astimezone(node.runtime.tz).date().isoformat()


def test_auditor_finds_the_clerks_actions(client: TestClient, trail: dict[str, Any]) -> None:
    aud = trail["auditor"]
    every = _records(client, aud)["items"]
    case_no = trail["cases"][0]
    mine = _records(client, aud, actor="clerk_f01")["items"]
    assert mine and all(i["actor_name"] == "clerk_f01" for i in mine)
    assert {i["object_id"] for i in mine} >= set(trail["cases"])
    assert all(i["role"] == "clerk" and i["unit"] == "F01" for i in mine)
    by_id = _records(client, aud, actor=str(mine[0]["actor_id"]))["items"]
    assert [i["id"] for i in by_id] == [i["id"] for i in mine]
    # Newest first, chain fields present.
    assert [i["id"] for i in every] == sorted((i["id"] for i in every), reverse=True)
    assert all(len(i["hash"]) == 64 and i["seq"] >= 1 for i in every)
    one_case = _records(client, aud, object_type="case", object_id=case_no)["items"]
    assert one_case and all(i["object_id"] == case_no for i in one_case)
    assert _records(client, aud, action="case.")["items"]
    assert all(
        i["action"].startswith("case.") for i in _records(client, aud, action="case.")["items"]
    )
    assert _records(client, aud, action="nosuch.")["items"] == []
    assert _records(client, aud, result="denied", actor="clerk_f01")["items"] == []
    rid = mine[0]["request_id"]
    assert rid
    assert {i["request_id"] for i in _records(client, aud, request_id=rid)["items"]} == {rid}
    assert _records(client, aud, actor="nobody-at-all")["items"] == []


def test_dates_are_local_and_inclusive(
    client: TestClient, trail: dict[str, Any], clean: Node
) -> None:
    aud, today = trail["auditor"], _today(clean)
    assert _records(client, aud, **{"from": today, "to": today})["items"]
    day_before = date.fromisoformat(today) - timedelta(1)
    assert _records(client, aud, to=day_before.isoformat())["items"] == []


def test_a_local_day_is_its_hours_in_chongqing(clean: Node) -> None:
    start, end = local_bounds(date(2026, 12, 7), date(2026, 12, 7), clean.runtime.tz)
    assert start == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def test_pagination_walks_every_record_once(client: TestClient, trail: dict[str, Any]) -> None:
    aud = trail["auditor"]
    every = [i["id"] for i in _records(client, aud, limit=200)["items"]]
    assert len(every) >= 3
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = _records(client, aud, **params)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == every


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-12-07", "to": "2026-12-01"}, "to"),
        ({"result": "maybe"}, "result"),
        ({"limit": "500"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"actor": "x" * 65}, "actor"),
    ],
)
def test_bad_filters_name_the_field(
    client: TestClient, login: Any, params: dict[str, str], field: str
) -> None:
    r = client.get("/api/v1/audit/records", params=params, headers=login("auditor"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


def test_the_page_marks_a_bad_date_in_chinese(browser: Any, trail: dict[str, Any]) -> None:
    page = browser("auditor").get("/audit?from=2026-02-30")
    assert page.status_code == 422
    assert "日期格式不正确" in page.text


def test_the_search_page_lists_and_filters(browser: Any, trail: dict[str, Any]) -> None:
    b = browser("auditor")
    page = b.get("/audit?actor=clerk_f01")
    assert page.status_code == 200
    assert "审计记录" in page.text and trail["cases"][0] in page.text
    assert 'href="/audit/chain"' in page.text  # the auditor's navigation
    first = b.get("/audit?limit=1")
    assert "更早的记录" in first.text and "cursor=" in first.text


def test_one_record_with_hashes_neighbours_and_its_request(
    client: TestClient, browser: Any, trail: dict[str, Any], clean: Node
) -> None:
    aud = trail["auditor"]
    items = _records(client, aud, actor="clerk_f01")["items"]
    target = items[1]
    r = client.get(f"/api/v1/audit/records/{target['id']}", headers=aud)
    assert r.status_code == 200
    body = r.json()
    assert body["hash"] == target["hash"] and len(body["prev_hash"]) == 64
    assert body["prev_id"] is not None and body["next_id"] is not None
    assert all(o["request_id"] == body["request_id"] for o in body["same_request"])
    page = browser("auditor").get(f"/audit/{target['id']}")
    assert page.status_code == 200 and target["hash"] in page.text
    assert client.get("/api/v1/audit/records/99999999999999999999", headers=aud).status_code == 404
    assert browser("auditor").get("/audit/abc").status_code == 404


def test_a_full_id_number_in_a_detail_is_masked(
    client: TestClient, browser: Any, trail: dict[str, Any], clean: Node
) -> None:
    full = "500118195304120018"
    with clean.runtime.db.uow() as uow:
        record(
            uow.session,
            agency=clean.runtime.agency,
            actor_id=None,
            actor_name="test",
            action="test.slip",
            object_type="case",
            object_id="X1",
            detail={"note": f"id {full} here", "nested": [{"id": full}]},
        )
        uow.commit()
    item = _records(client, trail["auditor"], action="test.slip")["items"][0]
    assert full not in str(item)
    assert "500118********0018" in item["detail"]["note"]
    page = browser("auditor").get(f"/audit/{item['id']}")
    assert full not in page.text and "500118********0018" in page.text


ENDPOINTS = [
    ("GET", "/api/v1/audit/records"),
    ("GET", "/api/v1/audit/records/1"),
    ("GET", "/api/v1/audit/chain"),
    ("POST", "/api/v1/audit/verify"),
    ("POST", "/api/v1/audit/checkpoint"),
    ("GET", "/api/v1/audit/export?from=2026-01-01&to=2026-12-31"),
    ("POST", "/api/v1/audit/archive?from=2026-01-01&to=2026-12-31"),
]
PAGES = ["/audit", "/audit/1", "/audit/chain", "/audit/export", "/audit/export/download"]
POST_PAGES = ["/audit/chain/verify", "/audit/chain/checkpoint", "/audit/archive"]


@pytest.mark.parametrize("username", ["clerk_f01", "officer", "admin"])
def test_no_other_role_opens_the_trail(
    client: TestClient, login: Any, browser: Any, username: str
) -> None:
    headers = login(username)
    for method, url in ENDPOINTS:
        assert client.request(method, url, headers=headers).status_code == 403, url
    b = browser(username)
    for url in PAGES:
        assert b.get(url).status_code == 403, url
    for url in POST_PAGES:
        assert b.post(url, {"from": "2026-01-01", "to": "2026-01-02"}).status_code == 403, url
    assert 'href="/audit"' not in b.get("/account").text


def test_the_auditor_lands_on_the_workspace(client: TestClient) -> None:
    import re

    from tests.conftest import PASSWORD

    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/login",
        data={"username": "auditor", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/audit"


def test_verify_and_checkpoint_are_shown_and_audited(
    client: TestClient, browser: Any, trail: dict[str, Any]
) -> None:
    aud = trail["auditor"]
    report = client.post("/api/v1/audit/verify", headers=aud).json()
    assert report["ok"] is True and report["checked"] >= 3
    b = browser("auditor")
    page = b.post("/audit/chain/verify")
    assert page.status_code == 200 and "审计链完整" in page.text
    r = b.post("/audit/chain/checkpoint", follow_redirects=False)
    assert r.status_code == 303
    chain = b.get(r.headers["location"])
    assert "已签署检查点" in chain.text or "检查点" in chain.text
    assert "已签名" in chain.text
    status = client.get("/api/v1/audit/chain", headers=aud).json()
    assert status["checkpoints"] and status["checkpoints"][0]["signature_valid"] is True
    assert status["head_seq"] >= status["checkpoints"][0]["seq"]
    actions = {
        i["action"] for i in _records(client, aud, action="audit.", actor="auditor")["items"]
    }
    assert {"audit.verify", "audit.checkpoint"} <= actions


def test_csv_export_of_a_period(client: TestClient, trail: dict[str, Any], clean: Node) -> None:
    aud, today = trail["auditor"], _today(clean)
    expected = _records(client, aud, limit=200)["items"]
    r = client.get(f"/api/v1/audit/export?from={today}&to={today}&format=csv", headers=aud)
    assert r.status_code == 200
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "记录编号", "时间（北京时间）"] and "哈希" in rows[0]
    seqs = [int(row[0]) for row in rows[1:]]
    assert seqs == sorted(i["seq"] for i in expected)
    assert r.headers["X-Audit-From-Seq"] == str(seqs[0])
    assert r.headers["X-Audit-To-Seq"] == str(seqs[-1])
    hashes = {row[0]: row[rows[0].index("哈希")] for row in rows[1:]}
    assert all(hashes[str(i["seq"])] == i["hash"] for i in expected)
    assert "clerk_f01" in {row[rows[0].index("操作人")] for row in rows[1:]}
    # The export itself is audited, after the records it holds.
    last = _records(client, aud, action="audit.export")["items"][0]
    assert last["detail"]["to_seq"] == seqs[-1] and last["seq"] > seqs[-1]
    empty = client.get("/api/v1/audit/export?from=2020-01-01&to=2020-01-31", headers=aud)
    assert empty.status_code == 200 and len(list(csv.reader(io.StringIO(empty.text)))) == 1


def test_xlsx_export_opens(client: TestClient, trail: dict[str, Any], clean: Node) -> None:
    aud, today = trail["auditor"], _today(clean)
    r = client.get(f"/api/v1/audit/export?from={today}&to={today}&format=xlsx", headers=aud)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "序号" and len(rows) >= 4
    assert str(rows[1][0]) == r.headers["X-Audit-From-Seq"]


def test_archive_registers_the_files_hash(
    client: TestClient, browser: Any, trail: dict[str, Any], clean: Node
) -> None:
    from sqlalchemy import select

    from yibao.audit.models import AuditArchive

    aud, today = trail["auditor"], _today(clean)
    r = client.post(f"/api/v1/audit/archive?from={today}&to={today}", headers=aud)
    assert r.status_code == 200, r.text
    digest = hashlib.sha256(r.content).hexdigest()
    assert r.headers["X-Audit-SHA256"] == digest
    with clean.runtime.db.session() as s:
        archive = s.scalars(select(AuditArchive)).one()
    assert archive.file_sha256 == digest
    assert (archive.from_seq, archive.to_seq) == (
        int(r.headers["X-Audit-From-Seq"]),
        int(r.headers["X-Audit-To-Seq"]),
    )
    page = browser("auditor").post("/audit/archive", {"from": "2020-01-01", "to": "2020-01-31"})
    assert page.status_code == 422 and "该期间没有审计记录" in page.text


def test_export_refuses_bad_periods(client: TestClient, login: Any, browser: Any) -> None:
    aud = login("auditor")
    for query, field in [
        ("to=2026-01-01", "from"),
        ("from=2026-01-01&to=2025-12-31", "to"),
        ("from=2026-01-01&to=2026-01-02&format=pdf", "format"),
    ]:
        r = client.get(f"/api/v1/audit/export?{query}", headers=aud)
        assert r.status_code == 422, query
        assert field in [e["field"] for e in r.json()["errors"]]
    page = browser("auditor").get("/audit/export/download?from=2026-01-01&to=nope")
    assert page.status_code == 422 and "日期格式不正确" in page.text
