"""Rating a finished case (phone and window), rectification end to end, scope and rates.

Every test runs on SQLite and on PostgreSQL (the ``node`` fixture).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import FIXED_NOW, Node
from tests.ratings.conftest import scores
from yibao.audit import guard
from yibao.audit.models import AuditRecord
from yibao.ratings import service

JSON = {"Accept": "application/json"}
TODAY = date(2026, 9, 29)  # Tuesday before the National Day holiday
DUE = date(2026, 10, 12)  # + 5 working days: 9/30, 10/8, 10/9, Sat 10/10, 10/12


def rate_public(client: TestClient, case: dict[str, Any], **body: Any):  # type: ignore[no-untyped-def]
    return client.post(
        f"/public/cases/{case['case_no']}/rating",
        json={"id_tail": case["id_tail"], **scores(), **body},
    )


def task_of(api, user: str, case_no: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api(user, "GET", f"/api/v1/ratings/cases/{case_no}")
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    assert task_id, "a bad rating opens a task"
    r = api(user, "GET", f"/api/v1/ratings/tasks/{task_id}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def act(api, user: str, task: dict[str, Any], action: str, expect: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    r = api(
        user,
        "POST",
        f"/api/v1/ratings/tasks/{task['id']}/actions",
        json={"action": action, "version": task["version"], **extra},
    )
    assert r.status_code == expect, r.text
    return r.json()


def audits(node: Node, prefix: str) -> list[AuditRecord]:
    with node.runtime.db.session() as s:
        stmt = select(AuditRecord).where(AuditRecord.action.like(f"{prefix}%"))
        return list(s.scalars(stmt.order_by(AuditRecord.id)))


# ---------------------------------------------------------------- rating once


def test_citizen_rates_a_completed_case_once(
    client: TestClient, api, completed, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
    assert page.status_code == 200
    assert 'id="rating-form"' in page.text and "请为本次服务评价" in page.text

    r = rate_public(client, case, overall=4, comment="服务很好")
    assert r.status_code == 201, r.text
    assert r.json()["overall_label"] == "满意" and r.json()["channel"] == "phone"
    assert "handler_name" not in r.json()  # the citizen sees no staff names

    again = rate_public(client, case, overall=1)
    assert again.status_code == 409
    assert (
        api(
            "clerk_f01", "POST", "/api/v1/ratings", json={"case_no": case["case_no"], **scores()}
        ).status_code
        == 409
    )

    page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
    assert 'id="rating-form"' not in page.text
    assert "您的评价" in page.text and "满意" in page.text and "服务很好" in page.text
    view = client.get(
        f"/public/cases/{case['case_no']}?id_tail={case['id_tail']}", headers=JSON
    ).json()
    assert view["rating"]["given"]["overall"] == 4 and view["rating"]["can_rate"] is False

    # A good rating opens no task; the rating is audited.
    assert (
        api("clerk_f01", "GET", f"/api/v1/ratings/cases/{case['case_no']}").json()["task_id"]
        is None
    )
    assert [a.actor_name for a in audits(clean, "rating.rate")] == ["citizen"]


def test_wrong_tail_and_unknown_case_are_the_same_404(client: TestClient, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    wrong = "0000" if case["id_tail"] != "0000" else "1111"
    a = client.post(f"/public/cases/{case['case_no']}/rating", json={"id_tail": wrong, **scores()})
    b = client.post(
        "/public/cases/20260929999999/rating", json={"id_tail": case["id_tail"], **scores()}
    )
    c = client.post(
        f"/public/cases/{'9' * 500}/rating", json={"id_tail": case["id_tail"], **scores()}
    )
    assert a.status_code == b.status_code == c.status_code == 404
    assert a.json()["detail"] == b.json()["detail"] == c.json()["detail"]
    # Still unrated: the right tail can rate it.
    assert rate_public(client, case).status_code == 201


def test_an_open_case_cannot_be_rated(client: TestClient, api) -> None:  # type: ignore[no-untyped-def]
    from tests.api.helpers import intake_body

    body = intake_body()
    case = api("clerk_f01", "POST", "/api/v1/cases", json=body).json()
    r = client.post(
        f"/public/cases/{case['case_no']}/rating",
        json={"id_tail": body["applicant"]["id_number"][-4:], **scores()},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case"
    page = client.get(
        f"/public/cases/{case['case_no']}?id_tail={body['applicant']['id_number'][-4:]}"
    )
    assert 'id="rating-form"' not in page.text


def test_bad_input_names_the_field_never_500(client: TestClient, api, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    url = f"/public/cases/{case['case_no']}/rating"
    tail = case["id_tail"]
    for body, field in [
        ({"id_tail": tail, **scores(), "overall": 6}, "overall"),
        ({"id_tail": tail, **scores(), "overall": "five"}, "overall"),
        ({"id_tail": tail, **scores(), "attitude": None}, "attitude"),
        ({"id_tail": tail, **scores(), "efficiency": True}, "efficiency"),
        ({"id_tail": tail, **scores(), "comment": "长" * 301}, "comment"),
        ({"id_tail": tail, **scores(), "comment": ["x"]}, "comment"),
        ({"id_tail": tail, **scores(), "extra": 1}, "extra"),
        ({**scores()}, "id_tail"),
        ({"id_tail": 1234, **scores()}, "id_tail"),
    ]:
        r = client.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field
    assert (
        client.post(
            url, content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert client.post(url, json=[1, 2]).status_code == 422
    # Staff API: pydantic names the field.
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/ratings",
        json={"case_no": case["case_no"], **scores(), "overall": 0},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "overall"
    r = api("clerk_f01", "POST", "/api/v1/ratings", json={"case_no": "x" * 21, **scores()})
    assert r.status_code == 422


def test_the_phone_form_needs_the_signed_token(client: TestClient, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    url = f"/public/cases/{case['case_no']}/rating"
    form = {"id_tail": case["id_tail"], **{k: str(v) for k, v in scores().items()}}
    r = client.post(url, data={**form, "form_token": "1.forged"}, follow_redirects=False)
    assert r.status_code == 403 and "页面已过期" in r.text
    page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
    token = page.text.split('name="form_token" value="')[1].split('"')[0]
    # Missing levels: the page says which, keeps the form.
    r = client.post(url, data={"id_tail": case["id_tail"], "form_token": token, "overall": "5"})
    assert r.status_code == 422 and "请选择办事效率" in r.text and 'id="rating-form"' in r.text
    # The thanks come with the page itself: a redirect would have put the tail in a URL.
    r = client.post(url, data={**form, "form_token": token}, follow_redirects=False)
    assert r.status_code == 200 and "location" not in r.headers
    assert "感谢您的评价" in r.text and 'id="rating-overall"' in r.text


# ---------------------------------------------------------------- rectification end to end


def test_bad_rating_rectified_followed_up_and_closed(
    client: TestClient, api, completed, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    assert rate_public(client, case, overall=2, comment="等了很久").status_code == 201

    # The clerk who completed the case owns the task, due in 5 working days (holiday skipped).
    mine = api("clerk_f01", "GET", "/api/v1/ratings/tasks").json()["items"]
    assert [t["case_no"] for t in mine] == [case["case_no"]]
    task = mine[0]
    assert task["state"] == "open" and task["owner_name"] and task["due_date"] == DUE.isoformat()
    assert api("clerk_f02", "GET", "/api/v1/ratings/tasks").json()["items"] == []
    assert api("clerk_f02", "GET", f"/api/v1/ratings/tasks/{task['id']}").status_code == 404
    assert api("master_f01", "GET", "/api/v1/ratings/tasks").json()["items"][0]["id"] == task["id"]
    assert api("auditor", "GET", "/api/v1/ratings/tasks").status_code == 403

    # No rectification before a follow-up.
    r = act(api, "clerk_f01", task, "rectify", 422, note="已改进")
    assert r["errors"][0]["field"] == "follow_up"
    task = act(
        api, "clerk_f01", task, "follow_up", method="phone", outcome="已致电道歉，群众表示理解"
    )
    assert task["follow_ups"] == 1 and task["state"] == "open"
    assert task["follow_up_records"][0]["method_label"] == "电话回访"
    stale = dict(task, version=task["version"] - 1)
    act(api, "clerk_f01", stale, "rectify", 409, note="x")
    # The owner may not accept their own rectification.
    task = act(api, "clerk_f01", task, "rectify", note="调整窗口排班，高峰期增开窗口")
    assert task["state"] == "rectified" and task["rectified_on_time"] is True
    assert act(api, "clerk_f01", task, "close", 403)
    task = act(api, "master_f01", task, "close")
    assert task["state"] == "closed" and task["outcome"] == "rectified"
    assert [e["action"] for e in task["events"]] == ["open", "follow_up", "rectify", "close"]
    assert {a.action for a in audits(clean, "rating.task")} == {
        "rating.task.open",
        "rating.task.follow_up",
        "rating.task.rectify",
        "rating.task.close",
    }
    # The case page shows the rating and the task.
    assert (
        api("clerk_f01", "GET", f"/api/v1/ratings/cases/{case['case_no']}").json()["overall"] == 2
    )


def test_appeal_is_decided_by_a_supervisor_only(client: TestClient, api, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    assert rate_public(client, case, overall=1).status_code == 201
    task = task_of(api, "clerk_f01", case["case_no"])
    assert act(api, "clerk_f01", task, "appeal", 422)["errors"][0]["field"] == "note"
    task = act(api, "clerk_f01", task, "appeal", note="群众误将他人办件评价")
    assert task["state"] == "appealed"
    queue = api("supervisor", "GET", "/api/v1/ratings/tasks?state=appealed").json()["items"]
    assert [t["id"] for t in queue] == [task["id"]]
    for user in ("clerk_f01", "master_f01", "officer"):
        act(api, user, task, "uphold", 403, note="x")
    task = act(api, "supervisor", task, "dismiss", note="证据不足，继续整改")
    assert task["state"] == "open" and task["decision"] == "dismiss"
    task = act(api, "clerk_f01", task, "appeal", note="补充了监控录像")
    task = act(api, "supervisor", task, "uphold", note="录像证实服务规范")
    assert task["state"] == "closed" and task["outcome"] == "unfounded"
    assert task["allowed_actions"] == []


def test_owner_falls_back_to_the_station_master(
    client: TestClient, api, completed, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    # The complete event names nobody (as an imported case might): the master owns the task.
    from sqlalchemy import update

    from yibao.cases.models import CaseEvent

    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test set-up")
        uow.session.execute(
            update(CaseEvent).where(CaseEvent.action == "complete").values(actor_id=None)
        )
        uow.commit()
    assert rate_public(client, case, overall=1).status_code == 201
    items = api("master_f01", "GET", "/api/v1/ratings/tasks?scope=mine").json()["items"]
    assert [t["case_no"] for t in items] == [case["case_no"]]
    # A clerk's list is their own tasks only; the task of a case they may see still opens.
    assert api("clerk_f01", "GET", "/api/v1/ratings/tasks?scope=station").json()["items"] == []
    assert api("clerk_f01", "GET", f"/api/v1/ratings/tasks/{items[0]['id']}").status_code == 200


def test_window_pad_through_the_api_and_scope(api, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    assert (
        api(
            "clerk_f02", "POST", "/api/v1/ratings", json={"case_no": case["case_no"], **scores()}
        ).status_code
        == 404
    )
    assert (
        api(
            "supervisor", "POST", "/api/v1/ratings", json={"case_no": case["case_no"], **scores()}
        ).status_code
        == 403
    )
    r = api("clerk_f01", "POST", "/api/v1/ratings", json={"case_no": case["case_no"], **scores(3)})
    assert r.status_code == 201 and r.json()["channel"] == "pad" and r.json()["task_id"] is None
    assert api("clerk_f02", "GET", f"/api/v1/ratings/cases/{case['case_no']}").status_code == 404
    assert api("admin", "GET", f"/api/v1/ratings/cases/{case['case_no']}").status_code == 403
    assert api("officer", "GET", f"/api/v1/ratings/cases/{case['case_no']}").json()["overall"] == 3


def test_task_list_pages_and_filters(client: TestClient, api, completed, clean: Node) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert rate_public(client, completed(), overall=2).status_code == 201
    seen: list[str] = []
    url = "/api/v1/ratings/tasks?limit=2"
    while url:
        page = api("officer", "GET", url).json()
        seen += [t["id"] for t in page["items"]]
        url = (
            f"/api/v1/ratings/tasks?limit=2&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    assert len(seen) == len(set(seen)) == 5
    assert api("officer", "GET", "/api/v1/ratings/tasks?cursor=garbage").status_code == 422
    assert (
        api("officer", "GET", "/api/v1/ratings/tasks?state=nope").json()["errors"][0]["field"]
        == "state"
    )
    assert (
        api("officer", "GET", "/api/v1/ratings/tasks?station=ZZZ").json()["errors"][0]["field"]
        == "station"
    )
    assert api("officer", "GET", "/api/v1/ratings/tasks/not-a-uuid").status_code == 404
    assert api("officer", "GET", "/api/v1/ratings/tasks?overdue=true").json()["items"] == []
    clean.clock.now = FIXED_NOW + timedelta(days=20)
    assert len(api("officer", "GET", "/api/v1/ratings/tasks?overdue=true").json()["items"]) == 5
    bad = api(
        "officer",
        "POST",
        f"/api/v1/ratings/tasks/{seen[0]}/actions",
        json={"action": "fly", "version": 1},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    r = api(
        "officer",
        "POST",
        f"/api/v1/ratings/tasks/{seen[0]}/actions",
        json={
            "action": "follow_up",
            "version": 1,
            "method": "pigeon",
            "outcome": "",
            "followed_at": future,
        },
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"method", "outcome", "followed_at"}


# ---------------------------------------------------------------- rates


def test_rates_count_what_happened(client: TestClient, api, completed, clean: Node) -> None:  # type: ignore[no-untyped-def]
    cases = [completed() for _ in range(5)]
    other = completed("clerk_f02", "F02")
    rate_public(client, cases[0], overall=5)
    rate_public(client, cases[1], overall=4)
    rate_public(client, cases[2], overall=3)
    rate_public(client, cases[3], overall=1)  # bad: followed up and rectified on time
    rate_public(client, other, overall=2)  # bad at F02: nothing done, then overdue
    task = task_of(api, "clerk_f01", cases[3]["case_no"])
    task = act(api, "clerk_f01", task, "follow_up", method="visit", outcome="上门致歉")
    act(api, "clerk_f01", task, "rectify", note="加强培训")

    with clean.runtime.db.session() as s:
        f01 = service.rates(s, agency="500118", since=TODAY, until=TODAY, station="F01")
        everyone = service.rates(s, agency="500118", since=TODAY, until=TODAY)
        item = service.rates(
            s, agency="500118", since=TODAY, until=TODAY, service_code="insurance_certificate"
        )
        yesterday = service.rates(
            s, agency="500118", since=TODAY - timedelta(days=1), until=TODAY - timedelta(days=1)
        )
        clerk_id = api("clerk_f01", "GET", f"/api/v1/ratings/cases/{cases[0]['case_no']}").json()[
            "handler_id"
        ]
        clerk = service.rates(s, agency="500118", since=TODAY, until=TODAY, clerk_id=clerk_id)
        by_station = {
            r.key: r.rates
            for r in service.rate_table(
                s, runtime=clean.runtime, since=TODAY, until=TODAY, by="station"
            )
        }
    assert (f01.finished, f01.rated, f01.satisfied, f01.bad) == (5, 4, 2, 1)
    assert f01.participation == 0.8 and f01.satisfaction == 0.5 and f01.mean_score == 13 / 4
    assert f01.rectified_on_time_rate == 1.0 and f01.follow_up_rate == 1.0
    assert (
        everyone.finished,
        everyone.rated,
        everyone.bad,
        everyone.rectified_on_time,
        everyone.followed_up,
    ) == (6, 5, 2, 1, 1)
    assert everyone.rectified_on_time_rate == 0.5
    assert item.finished == 6
    assert clerk == f01
    assert yesterday.finished == 0 and yesterday.participation is None
    assert by_station["F02"].bad == 1 and by_station["F02"].rectified_on_time_rate == 0.0
