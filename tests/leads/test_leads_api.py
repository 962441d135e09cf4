"""Supervision leads over the JSON API: confidentiality per role, the lifecycle, evidence,
audited reads — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import make_id
from tests.conftest import Node
from yibao.audit.models import AuditRecord

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n% evidence\n"

# Everyone but the author (clerk_f01) and supervisors: none of them may know the lead exists.
OUTSIDERS = ["clerk_f02", "master_f01", "clerk_m01", "clerk_v01", "officer", "auditor", "admin"]


@pytest.fixture
def api(client: TestClient, login, clean: Node):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


def raise_lead(api, user: str = "clerk_f01", **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {
        "kind": "phantom_inpatient",
        "description": "内科病区3床患者连续三日不在院，仍按住院计费。",
        "urgency": "urgent",
        **over,
    }
    r = api(user, "POST", "/api/v1/leads", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def audits(node: Node, action: str, object_id: str | None = None) -> list[AuditRecord]:
    with node.runtime.db.session() as s:
        stmt = select(AuditRecord).where(AuditRecord.action == action)
        if object_id:
            stmt = stmt.where(AuditRecord.object_id == object_id)
        return list(s.scalars(stmt.order_by(AuditRecord.id)))


def test_a_hospital_clerk_raises_a_lead_with_its_deadline(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    pid = make_id(birth="19610305")
    lead = raise_lead(api, patient_id_number=pid)
    assert lead["state"] == "raised" and lead["state_label"] == "已上报"
    assert lead["station_code"] == "F01"
    assert lead["hospital"] == "重庆医科大学附属永川医院"
    assert lead["kind_label"] == "挂床住院" and lead["urgency"] == "urgent"
    # Raised Tue 9/29; 9/30 is a working day, 10/1-10/7 off, Sat 10/10 worked: 10 WD → 10/19.
    assert lead["due_date"] == "2026-10-19"
    assert lead["light"] == "green"
    assert lead["patient_id_number"] == pid[:6] + "********" + pid[-4:]
    assert lead["allowed_actions"] == []  # the author does not work the lead
    assert lead["may_add"] is True


@pytest.mark.parametrize("user", ["clerk_m01", "clerk_v01", "officer", "supervisor", "admin"])
def test_only_hospital_station_staff_raise_leads(api, user: str) -> None:  # type: ignore[no-untyped-def]
    r = api(user, "POST", "/api/v1/leads", json={"kind": "other", "description": "x"})
    assert r.status_code == 403, r.text


def test_bad_input_names_the_field(api) -> None:  # type: ignore[no-untyped-def]
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/leads",
        json={"kind": "nope", "description": "", "urgency": "now", "patient_id_number": "123"},
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"kind", "description", "urgency", "patient_id_number"}
    r = api("clerk_f01", "POST", "/api/v1/leads", json={"kind": 5, "description": ["x"]})
    assert r.status_code == 422
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/leads",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    r = api("clerk_f01", "POST", "/api/v1/leads", json={"kind": "other", "description": "x" * 5000})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "description"


def test_a_lead_is_invisible_to_everyone_but_its_author_and_supervisors(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    lead = raise_lead(api, patient_id_number=make_id())
    lid = lead["id"]
    r = api(
        "clerk_f01",
        "POST",
        f"/api/v1/leads/{lid}/attachments",
        files={"file": ("a.png", PNG, "image/png")},
    )
    assert r.status_code == 201, r.text
    att = r.json()["id"]
    unknown = str(uuid.uuid4())
    for user in OUTSIDERS:
        for url in (
            f"/api/v1/leads/{lid}",
            f"/api/v1/leads/{lid}/attachments/{att}",
        ):
            r = api(user, "GET", url)
            assert r.status_code == 404, (user, url, r.status_code)
            # Exactly what an unknown lead answers: nothing tells the two apart.
            same = api(user, "GET", url.replace(lid, unknown))
            assert same.status_code == 404 and same.json()["detail"] == r.json()["detail"]
        for method, url, kw in (
            (
                "POST",
                f"/api/v1/leads/{lid}/actions",
                {"json": {"action": "verify", "version": 1, "note": "x"}},
            ),
            ("POST", f"/api/v1/leads/{lid}/notes", {"json": {"note": "x"}}),
            ("POST", f"/api/v1/leads/{lid}/patient/id-number", {}),
            (
                "POST",
                f"/api/v1/leads/{lid}/attachments",
                {"files": {"file": ("b.png", PNG, "image/png")}},
            ),
        ):
            r = api(user, method, url, **kw)
            assert r.status_code == 404, (user, url, r.status_code)
        listed = api(user, "GET", "/api/v1/leads")
        if listed.status_code == 200:
            assert listed.json()["items"] == [], user
        else:
            assert listed.status_code == 403, user  # roles that never have leads
    for user in ("clerk_f01", "supervisor"):
        assert api(user, "GET", f"/api/v1/leads/{lid}").status_code == 200
        assert api(user, "GET", f"/api/v1/leads/{lid}/attachments/{att}").content == PNG
        assert [i["id"] for i in api(user, "GET", "/api/v1/leads").json()["items"]] == [lid]
    # Nothing was changed by the outsiders' attempts.
    view = api("supervisor", "GET", f"/api/v1/leads/{lid}").json()
    assert view["state"] == "raised" and len(view["attachments"]) == 1
    assert [e["action"] for e in view["events"]] == ["raise", "evidence"]


def test_a_station_master_raising_sees_only_own(api) -> None:  # type: ignore[no-untyped-def]
    mine = raise_lead(api, "master_f01", kind="card_misuse")
    theirs = raise_lead(api, "clerk_f01")
    items = api("master_f01", "GET", "/api/v1/leads").json()["items"]
    assert [i["id"] for i in items] == [mine["id"]]
    assert api("clerk_f01", "GET", f"/api/v1/leads/{mine['id']}").status_code == 404
    assert api("master_f01", "GET", f"/api/v1/leads/{theirs['id']}").status_code == 404
    all_ids = {i["id"] for i in api("supervisor", "GET", "/api/v1/leads").json()["items"]}
    assert all_ids == {mine["id"], theirs["id"]}


def test_every_read_is_audited(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    pid = make_id()
    lead = raise_lead(api, patient_id_number=pid)
    lid = lead["id"]
    att = api(
        "clerk_f01",
        "POST",
        f"/api/v1/leads/{lid}/attachments",
        files={"file": ("e.pdf", PDF, "application/pdf")},
    ).json()["id"]
    api("supervisor", "GET", "/api/v1/leads")
    api("supervisor", "GET", f"/api/v1/leads/{lid}")
    api("supervisor", "GET", f"/api/v1/leads/{lid}/attachments/{att}")
    r = api("supervisor", "POST", f"/api/v1/leads/{lid}/patient/id-number")
    assert r.json() == {"id_number": pid}
    assert [a.actor_name for a in audits(clean, "lead.list")] == ["supervisor"]
    assert audits(clean, "lead.list")[0].detail["leads"] == [lid]
    assert [a.actor_name for a in audits(clean, "lead.read", lid)] == ["supervisor"]
    read_file = audits(clean, "lead.read_attachment", lid)
    assert len(read_file) == 1 and read_file[0].detail["attachment"] == att
    assert len(audits(clean, "lead.read_id_number", lid)) == 1
    # Failed reads by outsiders leave no trace of the lead either.
    api("officer", "GET", f"/api/v1/leads/{lid}")
    assert [a.actor_name for a in audits(clean, "lead.read", lid)] == ["supervisor"]


def walk(api, lid: str, action: str, version: int, **extra: Any):  # type: ignore[no-untyped-def]
    body = {"action": action, "version": version, "note": f"{action} 说明", **extra}
    return api("supervisor", "POST", f"/api/v1/leads/{lid}/actions", json=body)


def test_the_lifecycle_to_confirmed_with_the_amount_recovered(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    lead = raise_lead(api)
    lid = lead["id"]
    # The author cannot work the lead; an unknown action or a missing note is a field error.
    assert (
        api(
            "clerk_f01",
            "POST",
            f"/api/v1/leads/{lid}/actions",
            json={"action": "verify", "version": 1, "note": "x"},
        ).status_code
        == 403
    )
    assert walk(api, lid, "explode", 1).json()["errors"][0]["field"] == "action"
    r = api(
        "supervisor",
        "POST",
        f"/api/v1/leads/{lid}/actions",
        json={"action": "verify", "version": 1},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    r = walk(api, lid, "confirm", 1, amount_recovered="10")
    assert r.status_code == 422 and r.json()["allowed"] == ["verify"]
    r = walk(api, lid, "verify", 1)
    assert r.status_code == 200 and r.json()["state"] == "verifying"
    assert walk(api, lid, "intervene", 1).status_code == 409  # stale version
    r = walk(api, lid, "intervene", 2)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "actions_taken"
    r = walk(api, lid, "intervene", 2, actions_taken="暂停该病区医保结算，约谈科室主任")
    assert r.json()["state"] == "intervening" and r.json()["actions_taken"].startswith("暂停")
    r = walk(api, lid, "confirm", 3, amount_recovered="12.345")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount_recovered"
    r = walk(api, lid, "confirm", 3, amount_recovered="1,234.5")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "confirmed" and done["amount_recovered_fen"] == 123450
    assert done["amount_recovered"] == "1,234.50" and done["closed_date"] == "2026-09-29"
    assert done["allowed_actions"] == [] and done["may_add"] is False
    # Closed: the author may no longer add anything.
    r = api("clerk_f01", "POST", f"/api/v1/leads/{lid}/notes", json={"note": "补充"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"
    view = api("clerk_f01", "GET", f"/api/v1/leads/{lid}").json()
    assert [(e["action"], e["to_state"]) for e in view["events"]] == [
        ("raise", "raised"),
        ("verify", "verifying"),
        ("intervene", "intervening"),
        ("confirm", "confirmed"),
    ]
    assert all(e["note"] for e in view["events"][1:])
    assert {a.action for a in audits(clean, "lead.confirm", lid)} == {"lead.confirm"}


def test_verifying_straight_to_unfounded_and_notes_while_open(api) -> None:  # type: ignore[no-untyped-def]
    lid = raise_lead(api)["id"]
    r = api(
        "clerk_f01", "POST", f"/api/v1/leads/{lid}/notes", json={"note": "患者家属补充：当日已出院"}
    )
    assert r.status_code == 201
    assert (
        api("clerk_f01", "POST", f"/api/v1/leads/{lid}/notes", json={"note": "  "}).status_code
        == 422
    )
    walk(api, lid, "verify", 1)
    r = walk(api, lid, "dismiss", 2)
    assert r.json()["state"] == "unfounded" and r.json()["amount_recovered_fen"] is None
    assert walk(api, lid, "verify", 3).status_code == 422


def test_the_light_turns_yellow_then_red(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    lid = raise_lead(api)["id"]
    clean.clock.now += timedelta(days=20)  # 10/19 is the last working day
    assert api("supervisor", "GET", f"/api/v1/leads/{lid}").json()["light"] == "yellow"
    clean.clock.now += timedelta(days=1)
    lead = api("supervisor", "GET", f"/api/v1/leads/{lid}").json()
    assert lead["light"] == "red" and lead["overdue"] is True


def test_evidence_upload_is_checked(api) -> None:  # type: ignore[no-untyped-def]
    lid = raise_lead(api)["id"]
    r = api(
        "clerk_f01",
        "POST",
        f"/api/v1/leads/{lid}/attachments",
        files={"file": ("x.exe", b"MZ\x90\x00", "image/png")},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = api("clerk_f01", "POST", f"/api/v1/leads/{lid}/attachments")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = api(
        "supervisor",
        "POST",
        f"/api/v1/leads/{lid}/attachments",
        files={"file": ("s.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201
    other = raise_lead(api)["id"]
    # A file of another lead is not reachable through this one.
    assert (
        api("supervisor", "GET", f"/api/v1/leads/{other}/attachments/{r.json()['id']}").status_code
        == 404
    )
    assert (
        api("supervisor", "GET", f"/api/v1/leads/{lid}/attachments/not-a-uuid").status_code == 404
    )


def test_lists_page_and_filter(api) -> None:  # type: ignore[no-untyped-def]
    ids = [
        raise_lead(api, kind="over_treatment" if i % 2 else "card_misuse")["id"] for i in range(5)
    ]
    page = api("supervisor", "GET", "/api/v1/leads?limit=2").json()
    seen = [i["id"] for i in page["items"]]
    while page["next_cursor"]:
        page = api(
            "supervisor", "GET", f"/api/v1/leads?limit=2&cursor={page['next_cursor']}"
        ).json()
        seen += [i["id"] for i in page["items"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    only = api("supervisor", "GET", "/api/v1/leads?kind=over_treatment").json()["items"]
    assert len(only) == 2 and {i["kind"] for i in only} == {"over_treatment"}
    for q in ("state=nope", "kind=nope", "urgency=nope", "cursor=garbage", "limit=0", "limit=abc"):
        r = api("supervisor", "GET", f"/api/v1/leads?{q}")
        assert r.status_code == 422, q
