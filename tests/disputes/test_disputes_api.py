"""Disputes over the JSON API: opening with three parties, sessions with statements kept apart
from the mediator's notes, the lifecycle, the deadline, and scoping per role — on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import Node

TODAY = "2026-09-29"


@pytest.fixture
def api(client: TestClient, login, clean: Node):  # type: ignore[no-untyped-def]
    """``api(user, method, url, **kw)`` with that user's bearer token."""

    def call(user: str, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return client.request(method, url, headers={**login(user), **kw.pop("headers", {})}, **kw)

    return call


def body(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subject": "住院费用中自费药品未事先告知",
        "description": "患者出院结算时发现自费药品约两千元，称未签署知情同意书。",
        "hospital_name": "永川区人民医院",
        "patient_name": "周桂兰",
        "representatives": [
            {"party": "hospital", "name": "何志刚", "title": "医务科科长", "phone": "023-49876543"},
            {"party": "insurer", "name": "张伟", "title": "医保局经办", "phone": "13800138000"},
            {"party": "patient", "name": "周桂兰", "title": "患者本人", "phone": "13912345678"},
        ],
    }
    out.update(over)
    return out


def open_(api, user: str = "clerk_f02", **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api(user, "POST", "/api/v1/disputes", json=body(**over))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def session(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "session_date": TODAY,
        "mediator": "赵敏",
        "parties_present": ["hospital", "patient", "insurer"],
        "statements": {
            "hospital": "医院称用药前已口头告知。",
            "patient": "患者称从未被告知自费。",
        },
        "mediator_notes": "双方分歧在于告知方式，建议调取护理记录。",
    }
    out.update(over)
    return out


def test_opening_a_dispute(api) -> None:  # type: ignore[no-untyped-def]
    d = open_(api)
    assert d["state"] == "open" and d["station_code"] == "F02"
    assert d["insurer_name"] == "重庆市永川区医疗保障局"
    assert d["limit_days"] == 15
    # Opened Tue 9/29: 9/30, 10/8, 10/9, Sat 10/10 (make-up day), 10/12-16, 10/19-23, 10/26.
    assert d["due_date"] == "2026-10-26" and d["light"] == "green"
    phones = {r["party"]: r["phone"] for r in d["representatives"]}
    assert phones == {
        "hospital": "023-****6543",
        "insurer": "138****8000",
        "patient": "139****5678",
    }
    assert d["allowed_actions"] == ["mediate", "withdraw"] and d["may_record_session"]
    assert [e["action"] for e in d["events"]] == ["open"]


def test_opening_checks_every_field(api) -> None:  # type: ignore[no-untyped-def]
    r = api(
        "clerk_f02",
        "POST",
        "/api/v1/disputes",
        json=body(
            subject="",
            patient_name="",
            case_no="20260101999",
            representatives=[{"party": "judge", "name": "", "phone": "12"}],
        ),
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {
        "subject",
        "patient_name",
        "case_no",
        "representatives",
        "representatives[0].party",
        "representatives[0].name",
        "representatives[0].phone",
    } <= fields
    r = api("clerk_f02", "POST", "/api/v1/disputes", json=body(limit_days=0))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit_days"
    r = api("clerk_f02", "POST", "/api/v1/disputes", json={"subject": 3})
    assert r.status_code == 422
    for user in ("supervisor", "auditor", "admin"):
        assert api(user, "POST", "/api/v1/disputes", json=body()).status_code == 403


def test_a_linked_complaint_case(api) -> None:  # type: ignore[no-untyped-def]
    r = api(
        "clerk_f02",
        "POST",
        "/api/v1/cases",
        json=intake_body(service_code="complaint", station_code="F02", materials=[]),
    )
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    d = open_(api, case_no=case_no, limit_days=5)
    assert d["case_no"] == case_no and d["limit_days"] == 5
    # A clerk of another station cannot link a case it does not see.
    r = api("clerk_f01", "POST", "/api/v1/disputes", json=body(case_no=case_no))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case_no"


def test_sessions_keep_each_partys_statement_apart_from_the_mediator(api) -> None:  # type: ignore[no-untyped-def]
    d = open_(api)
    r = api("clerk_f02", "POST", f"/api/v1/disputes/{d['id']}/sessions", json=session())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "mediating"  # the first session starts the mediation
    s = out["sessions"][0]
    assert s["statements"] == {
        "hospital": "医院称用药前已口头告知。",
        "patient": "患者称从未被告知自费。",
    }
    assert s["mediator_notes"] == "双方分歧在于告知方式，建议调取护理记录。"
    for said in s["statements"].values():
        assert said not in (s["mediator_notes"] or "")
    assert "insurer" not in s["statements"]  # present but silent
    assert [e["action"] for e in out["events"]] == ["open", "mediate", "session"]
    # A party that was not there says nothing; unknown parties and a future date are refused.
    r = api(
        "clerk_f02",
        "POST",
        f"/api/v1/disputes/{d['id']}/sessions",
        json=session(parties_present=["hospital"], session_date="2026-10-30"),
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"statements.patient", "session_date"}
    r = api(
        "clerk_f02",
        "POST",
        f"/api/v1/disputes/{d['id']}/sessions",
        json=session(parties_present=["court"], mediator=""),
    )
    assert {e["field"] for e in r.json()["errors"]} >= {"parties_present", "mediator"}
    r = api(
        "clerk_f02",
        "POST",
        f"/api/v1/disputes/{d['id']}/sessions",
        json=session(statements={"mediator": "x"}),
    )
    assert r.status_code == 422


def test_lifecycle_outcomes(api) -> None:  # type: ignore[no-untyped-def]
    d = open_(api)
    did = d["id"]

    def act(version: int, action: str, **extra: Any):  # type: ignore[no-untyped-def]
        return api(
            "clerk_f02",
            "POST",
            f"/api/v1/disputes/{did}/actions",
            json={"action": action, "version": version, **extra},
        )

    r = act(1, "agree", terms="x")
    assert r.status_code == 422 and r.json()["allowed"] == ["mediate", "withdraw"]
    assert act(1, "mediate").json()["state"] == "mediating"
    assert act(1, "agree", terms="x").status_code == 409
    r = act(2, "agree")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "terms"
    r = act(2, "agree", terms="医院退还自费药品费用1860元，患者撤回投诉。")
    assert r.json()["state"] == "agreed" and r.json()["outcome"]["terms"].startswith("医院退还")
    assert r.json()["closed_date"] == TODAY and r.json()["allowed_actions"] == []
    r = api("clerk_f02", "POST", f"/api/v1/disputes/{did}/sessions", json=session())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"

    other = open_(api)["id"]
    r = api(
        "clerk_f02",
        "POST",
        f"/api/v1/disputes/{other}/actions",
        json={"action": "withdraw", "version": 1, "withdrawn_by": "nobody"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "withdrawn_by"
    r = api(
        "clerk_f02",
        "POST",
        f"/api/v1/disputes/{other}/actions",
        json={"action": "withdraw", "version": 1, "withdrawn_by": "patient"},
    )
    assert r.json()["state"] == "withdrawn" and r.json()["outcome"]["withdrawn_by"] == "patient"

    third = open_(api)["id"]
    api(
        "officer",
        "POST",
        f"/api/v1/disputes/{third}/actions",
        json={"action": "mediate", "version": 1},
    )
    r = api(
        "officer",
        "POST",
        f"/api/v1/disputes/{third}/actions",
        json={"action": "escalate", "version": 2, "escalated_to": "区卫生健康委医政科"},
    )
    assert (
        r.json()["state"] == "escalated"
        and r.json()["outcome"]["escalated_to"] == "区卫生健康委医政科"
    )


def test_scoping_per_role(api) -> None:  # type: ignore[no-untyped-def]
    d = open_(api)  # at F02
    did = d["id"]
    for user in ("clerk_f02", "officer", "supervisor"):
        assert api(user, "GET", f"/api/v1/disputes/{did}").status_code == 200, user
        assert [i["id"] for i in api(user, "GET", "/api/v1/disputes").json()["items"]] == [did]
    for user in ("clerk_f01", "master_f01", "clerk_m01"):
        assert api(user, "GET", f"/api/v1/disputes/{did}").status_code == 404, user
        assert api(user, "GET", "/api/v1/disputes").json()["items"] == [], user
        r = api(
            user,
            "POST",
            f"/api/v1/disputes/{did}/actions",
            json={"action": "mediate", "version": 1},
        )
        assert r.status_code == 404
    for user in ("auditor", "admin"):
        assert api(user, "GET", "/api/v1/disputes").status_code == 403
        assert api(user, "GET", f"/api/v1/disputes/{did}").status_code == 403
    # Supervisors read but do not act.
    sup = api("supervisor", "GET", f"/api/v1/disputes/{did}").json()
    assert sup["allowed_actions"] == [] and not sup["may_record_session"]
    r = api(
        "supervisor",
        "POST",
        f"/api/v1/disputes/{did}/actions",
        json={"action": "mediate", "version": 1},
    )
    assert r.status_code == 403
    r = api("supervisor", "POST", f"/api/v1/disputes/{did}/sessions", json=session())
    assert r.status_code == 403
    # A master's dispute at F01 is theirs and the bureau's, not F02's.
    mine = open_(api, "master_f01")
    assert mine["station_code"] == "F01"
    assert api("clerk_f01", "GET", f"/api/v1/disputes/{mine['id']}").status_code == 200
    assert api("clerk_f02", "GET", f"/api/v1/disputes/{mine['id']}").status_code == 404
    assert api("clerk_f02", "GET", "/api/v1/disputes/not-a-uuid").status_code == 404


def test_traffic_light_over_the_calendar(api, clean: Node) -> None:  # type: ignore[no-untyped-def]
    d = open_(api, limit_days=3)  # 9/30, 10/8, 10/9 → due Fri 10/9
    assert d["due_date"] == "2026-10-09"
    clean.clock.now += timedelta(days=9)  # Thu 10/8: one working day left
    assert api("clerk_f02", "GET", f"/api/v1/disputes/{d['id']}").json()["light"] == "green"
    clean.clock.now += timedelta(days=1)  # Fri 10/9: the last working day
    assert api("clerk_f02", "GET", f"/api/v1/disputes/{d['id']}").json()["light"] == "yellow"
    clean.clock.now += timedelta(days=1)  # Sat 10/10 is a make-up working day: overdue
    got = api("clerk_f02", "GET", f"/api/v1/disputes/{d['id']}").json()
    assert got["light"] == "red" and got["overdue"]
    overdue = api("officer", "GET", "/api/v1/disputes?overdue=true").json()["items"]
    assert [i["id"] for i in overdue] == [d["id"]]


def test_lists_page_and_refuse_bad_filters(api) -> None:  # type: ignore[no-untyped-def]
    ids = [open_(api, subject=f"纠纷{i}")["id"] for i in range(4)]
    page = api("officer", "GET", "/api/v1/disputes?limit=3").json()
    seen = [i["id"] for i in page["items"]]
    page = api("officer", "GET", f"/api/v1/disputes?limit=3&cursor={page['next_cursor']}").json()
    seen += [i["id"] for i in page["items"]]
    assert sorted(seen) == sorted(ids) and page["next_cursor"] is None
    assert len(api("officer", "GET", "/api/v1/disputes?q=纠纷2").json()["items"]) == 1
    for q in ("state=nope", "station=XX", "cursor=abc", "limit=1000", "q=" + "长" * 41):
        assert api("officer", "GET", f"/api/v1/disputes?{q}").status_code == 422, q
