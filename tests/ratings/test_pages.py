"""The pages of ratings: the case panel, the window's pad, the task list and page, dashboards."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.ratings.conftest import scores
from tests.web.conftest import Browser, sign_in


@pytest.fixture
def browser(client: TestClient) -> Callable[[str], Browser]:
    """``browser(username)`` → a signed-in Browser with its own cookies."""
    return lambda username: sign_in(TestClient(client.app), username)


def task_id_in(html: str) -> str:
    found = re.search(r'href="/ratings/tasks/([0-9a-f-]{36})"', html)
    assert found, "no task link on the page"
    return found.group(1)


def version_in(html: str, form_id: str) -> str:
    form = html.split(f'id="{form_id}"')[1]
    return form.split('name="version" value="')[1].split('"')[0]


def test_pad_at_the_window_bad_rating_becomes_the_clerks_task(browser, completed) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    no = case["case_no"]
    clerk = browser("clerk_f01")
    page = clerk.get(f"/cases/{no}")
    assert 'id="rating-panel"' in page.text and f'href="/ratings/pad/{no}"' in page.text

    pad = clerk.get(f"/ratings/pad/{no}")
    assert pad.status_code == 200 and "请您对本次服务进行评价" in pad.text
    assert pad.text.count('type="radio"') == 20
    # Nothing chosen: every indicator is named.
    r = clerk.post(f"/ratings/pad/{no}", {"comment": "x"})
    assert r.status_code == 422 and "请选择总体评价" in r.text and "请选择服务态度" in r.text
    form = {k: str(v) for k, v in scores(1, comment="窗口人员态度冷淡").items()}
    r = clerk.post(f"/ratings/pad/{no}", form, follow_redirects=False)
    assert r.status_code == 303
    assert "感谢您的评价" in clerk.get(r.headers["location"]).text
    again = clerk.post(f"/ratings/pad/{no}", form)
    assert again.status_code == 409 and "每件只能评价一次" in again.text

    # Without a session token the pad refuses.
    bare = clerk.client.post(f"/ratings/pad/{no}", data=form)
    assert bare.status_code == 403

    page = clerk.get(f"/cases/{no}")
    assert "非常不满意" in page.text and "窗口评价器" in page.text
    listing = clerk.get("/ratings")
    assert listing.status_code == 200 and no in listing.text and "待整改" in listing.text
    task = task_id_in(listing.text)
    assert no not in browser("clerk_f02").get("/ratings").text
    assert browser("clerk_f02").get(f"/ratings/tasks/{task}").status_code == 404

    # Follow-up, then rectification, then the master accepts it.
    view = clerk.get(f"/ratings/tasks/{task}")
    assert "窗口人员态度冷淡" in view.text and 'id="form-follow_up"' in view.text
    assert 'id="form-uphold"' not in view.text and 'id="form-close"' not in view.text
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {"action": "rectify", "version": version_in(view.text, "form-rectify"), "note": "x"},
    )
    assert r.status_code == 422 and "须先登记回访" in r.text
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {
            "action": "follow_up",
            "version": version_in(view.text, "form-follow_up"),
            "method": "phone",
            "outcome": "",
            "followed_at": "2026-09-29T09:30",
        },
    )
    assert r.status_code == 422 and "请填写回访结果" in r.text
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {
            "action": "follow_up",
            "version": version_in(view.text, "form-follow_up"),
            "method": "phone",
            "outcome": "已电话致歉",
            "followed_at": "2026-09-29T09:30",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    view = clerk.get(r.headers["location"])
    assert "电话回访" in view.text and "已电话致歉" in view.text
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {
            "action": "rectify",
            "version": version_in(view.text, "form-rectify"),
            "note": "开展文明服务培训",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    master = browser("master_f01")
    view = master.get(f"/ratings/tasks/{task}")
    assert "已整改" in view.text and 'id="form-close"' in view.text
    stale = master.post(f"/ratings/tasks/{task}/act", {"action": "close", "version": "1"})
    assert stale.status_code == 409
    r = master.post(
        f"/ratings/tasks/{task}/act",
        {"action": "close", "version": version_in(view.text, "form-close")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert '<strong id="task-state">已办结</strong>' in master.get(f"/ratings/tasks/{task}").text


def test_supervisor_sees_the_appeal_queue_and_decides(
    browser, api, completed, client: TestClient
) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    client.post(
        f"/public/cases/{case['case_no']}/rating", json={"id_tail": case["id_tail"], **scores(2)}
    )
    clerk = browser("clerk_f01")
    task = task_id_in(clerk.get("/ratings").text)
    view = clerk.get(f"/ratings/tasks/{task}")
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {
            "action": "appeal",
            "version": version_in(view.text, "form-appeal"),
            "note": "评价对象有误",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    sup = browser("supervisor")
    listing = sup.get("/ratings")
    assert 'id="appeal-queue"' in listing.text and "(1)" in listing.text
    queue = sup.get("/ratings?state=appealed")
    assert case["case_no"] in queue.text
    view = sup.get(f"/ratings/tasks/{task}")
    assert 'id="form-uphold"' in view.text and 'id="form-dismiss"' in view.text
    assert 'id="form-uphold"' not in clerk.get(f"/ratings/tasks/{task}").text
    r = clerk.post(
        f"/ratings/tasks/{task}/act",
        {"action": "uphold", "version": version_in(view.text, "form-uphold"), "note": "x"},
    )
    assert r.status_code == 403
    r = sup.post(
        f"/ratings/tasks/{task}/act",
        {"action": "uphold", "version": version_in(view.text, "form-uphold"), "note": "核实为误评"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "申诉成立" in sup.get(f"/ratings/tasks/{task}").text


def test_lists_are_paged_and_filters_checked(browser, completed, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for _ in range(27):
        case = completed()
        client.post(
            f"/public/cases/{case['case_no']}/rating",
            json={"id_tail": case["id_tail"], **scores(1)},
        )
    officer = browser("officer")
    first = officer.get("/ratings")
    assert first.text.count('href="/ratings/tasks/') == 25
    nxt = re.search(r'id="next-page" href="([^"]+)"|href="([^"]+)" id="next-page"', first.text)
    assert nxt
    second = officer.get((nxt.group(1) or nxt.group(2)).replace("&amp;", "&"))
    assert second.text.count('href="/ratings/tasks/') == 2
    assert officer.get("/ratings?state=nope").status_code == 422
    assert officer.get("/ratings?cursor=zzz").status_code == 422
    assert officer.get("/ratings/tasks/nope").status_code == 404
    assert browser("admin").get("/ratings").status_code == 403
    assert browser("auditor").get("/ratings/pad/123").status_code == 403


def test_dashboards_show_the_rates(browser, completed, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for overall in (5, 4, 1):
        case = completed()
        client.post(
            f"/public/cases/{case['case_no']}/rating",
            json={"id_tail": case["id_tail"], **scores(overall)},
        )
    completed()  # finished, not rated
    board = browser("master_f01").get("/dashboard")
    assert (
        board.status_code == 200
        and 'id="ratings-clerks"' in board.text
        and 'id="ratings-items"' in board.text
    )
    table = board.text.split('id="ratings-items"')[1].split("</table>")[0]
    assert "75.0%" in table and "66.7%" in table  # 3 of 4 rated, 2 of 3 satisfied
    overview = browser("officer").get("/overview/ratings")
    assert overview.status_code == 200 and 'id="ratings-stations"' in overview.text
    row = overview.text.split('id="ratings-stations"')[1].split("F01")[1].split("</tr>")[0]
    assert "75.0%" in row
    english = browser("master_f01")
    english.get("/lang/en?next=/dashboard")
    assert "Ratings by clerk" in english.get("/dashboard").text


def test_odd_input_never_gives_a_500(browser, completed, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    no, tail = case["case_no"], case["id_tail"]
    for url in (
        f"/public/cases/{no}/rating",
        "/public/cases/%00/rating",
        f"/public/cases/{'1' * 300}/rating",
    ):
        for data in (
            {},
            {"id_tail": tail},
            {"id_tail": "x" * 5000, "form_token": "9" * 40},
            {"id_tail": tail, "form_token": "."},
        ):
            r = client.post(url, data=data)
            assert r.status_code in (403, 404, 422), (url, data, r.status_code)
        for body in (None, "x", 5, {"id_tail": None}, {"id_tail": tail, "overall": {"a": 1}}):
            r = client.post(url, json=body)
            assert r.status_code in (404, 422), (url, body, r.status_code)
    clerk = browser("clerk_f01")
    for path in (
        "/ratings/pad/nope",
        f"/ratings/pad/{'9' * 300}",
        "/ratings/tasks/%20",
        "/ratings/tasks/" + "a" * 300,
    ):
        assert clerk.get(path).status_code == 404, path
    r = clerk.post(
        f"/ratings/pad/{no}",
        {
            "overall": "99",
            "efficiency": "-1",
            "service_level": "",
            "attitude": "五",
            "comment": "x" * 5000,
        },
    )
    assert r.status_code == 422 and "意见最多" in r.text
    for data in (
        {},
        {"action": "fly", "version": "x"},
        {"action": "follow_up", "version": "99999999999", "followed_at": "yesterday"},
    ):
        r = clerk.post("/ratings/tasks/00000000-0000-0000-0000-000000000000/act", data)
        assert r.status_code in (403, 404, 422), (data, r.status_code)
    for q in (
        "state=%00",
        "scope=x" * 3,
        "overdue=maybe",
        "station=" + "Z" * 30,
        "cursor=" + "a" * 600,
    ):
        assert clerk.get(f"/ratings?{q}").status_code in (200, 422), q


def test_english_switch(browser, completed, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    case = completed()
    client.post(
        f"/public/cases/{case['case_no']}/rating", json={"id_tail": case["id_tail"], **scores(2)}
    )
    master = browser("master_f01")
    master.get("/lang/en?next=/ratings")
    page = master.get("/ratings")
    assert "Ratings and rectification" in page.text and ">Open<" in page.text
    task = master.get(f"/ratings/tasks/{task_id_in(page.text)}")
    assert "Dissatisfied" in task.text and "Follow up" in task.text
    assert "Rating (好差评)" in master.get(f"/cases/{case['case_no']}").text
