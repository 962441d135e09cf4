"""What the visits page puts before the supervisor: past visits still only planned (to report
done or cancel), visits that fall on a day off once next year's schedule is imported (to move),
and the estimated flag on dates of a year without an official schedule."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, text

from tests.conftest import FIXED_NOW, Node
from yibao.audit import guard
from yibao.audit.models import AuditRecord
from yibao.calendar.rules import YearSchedule
from yibao.calendar.service import store_schedule

TODAY = date(2026, 9, 29)
# A Wednesday after the Spring Festival: a working day in the estimate of 2027 (weekends and the
# statutory 4 days from New Year's Eve), a day off once the official week-long break is imported.
SPRING = date(2027, 2, 10)
SPRING_BREAK = frozenset(date(2027, 2, 5) + timedelta(days=i) for i in range(8))
JSON = {"Accept": "application/json"}


def plan(api, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"station_code": "M01", "village": "青峰村", "date": TODAY.isoformat(), **over}
    r = api("supervisor", "POST", "/api/v1/visits", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def stale(api) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = api("officer", "GET", "/api/v1/visits/stale-villages")
    assert r.status_code == 200, r.text
    return {s["village"]: s for s in r.json()}


def section(html: str, id_: str) -> str:
    """The HTML of one table of the page ('' when the page has none)."""
    start = html.find(f'id="{id_}"')
    return "" if start < 0 else html[start : html.find("</table>", start)]


def test_a_visit_planned_for_today_is_not_a_visit(api, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    plan(api)
    row = stale(api)["青峰村"]
    assert row["last_visit"] is None and row["next_visit"] == TODAY.isoformat()


def test_past_planned_visits_are_listed_until_closed(api, browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    made = plan(api)
    missed = plan(api, village="石笋村")
    vnode.clock.now = FIXED_NOW + timedelta(days=3)
    try:
        # Never reported done: they count for nobody.
        rows = stale(api)
        assert rows["青峰村"]["last_visit"] is None and rows["石笋村"]["last_visit"] is None

        sup = browser("supervisor")
        page = sup.get("/visits").text
        listed = section(page, "to-close")
        assert "已过期仍为计划的到访" in page
        assert (
            f'href="/visits/{made["id"]}"' in listed and f'href="/visits/{missed["id"]}"' in listed
        )
        listed_api = api("supervisor", "GET", "/api/v1/visits/past-planned").json()
        assert [v["village"] for v in listed_api] == ["青峰村", "石笋村"]
        assert api("auditor", "GET", "/api/v1/visits/past-planned").status_code == 403
        # Station staff do not get the supervisor's list.
        assert 'id="to-close"' not in browser("clerk_m01").get("/visits").text

        # Close one as made, on its page; cancel the other with a reason.
        visit_page = sup.get(f"/visits/{made['id']}").text
        assert f"/visits/{made['id']}/done" in visit_page and "标记为已到访" in visit_page
        r = sup.post(f"/visits/{made['id']}/done", {"version": "1"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        r = api(
            "supervisor",
            "POST",
            f"/api/v1/visits/{missed['id']}/cancel",
            json={"version": 1, "reason": "雨天道路中断"},
        )
        assert r.status_code == 200, r.text

        page = sup.get("/visits").text
        assert 'id="to-close"' not in page
        rows = stale(api)
        assert "青峰村" not in rows and rows["石笋村"]["last_visit"] is None
        with vnode.runtime.db.session() as s:
            audited = {
                (a.action, a.object_id, a.actor_name)
                for a in s.scalars(select(AuditRecord).where(AuditRecord.object_type == "visit"))
            }
        assert ("visit.done", made["id"], "supervisor") in audited
        assert ("visit.cancel", missed["id"], "supervisor") in audited
    finally:
        vnode.clock.now = FIXED_NOW


def test_a_visit_on_a_day_off_after_the_import_is_listed_to_move(api, browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    visit = plan(api, date=SPRING.isoformat())
    assert visit["estimated"] is True and visit["working_day"] is True
    sup = browser("supervisor")
    assert 'id="estimated"' in sup.get(f"/visits/{visit['id']}").text
    before = sup.get("/visits").text
    assert 'id="days-off"' not in before
    stale_row = section(before, "stale").split("青峰村", 1)[1].split("</tr>", 1)[0]
    assert SPRING.isoformat() in stale_row and "预估" in stale_row  # its next visit, estimated
    # The citizen's page flags the estimated date too.
    public = api("supervisor", "GET", "/public/visits", params={"village": "青峰村"}, headers=JSON)
    assert [i["estimated"] for i in public.json()["items"]] == [True]
    page = sup.client.get("/public/visits", params={"village": "青峰村"}).text
    assert "（预估）" in page and 'id="estimated"' in page

    try:
        with vnode.runtime.db.uow() as uow:
            guard.bulk(uow.session, "test set-up")
            store_schedule(
                uow.session,
                YearSchedule(2027, SPRING_BREAK, frozenset(), source="test"),
            )
            uow.commit()
        vnode.runtime.invalidate()
        # Not moved silently: still planned on the same day, now listed with a link to move it.
        again = api("supervisor", "GET", f"/api/v1/visits/{visit['id']}").json()
        assert (again["date"], again["state"]) == (SPRING.isoformat(), "planned")
        assert again["working_day"] is False and again["estimated"] is False
        page = sup.get("/visits").text
        listed = section(page, "days-off")
        assert "安排在休息日的到访" in page
        assert "预估" not in section(page, "stale").split("青峰村", 1)[1].split("</tr>", 1)[0]
        off = api("supervisor", "GET", "/api/v1/visits/on-days-off").json()
        assert [(v["id"], v["date"]) for v in off] == [(visit["id"], SPRING.isoformat())]
        assert f'href="/visits/{visit["id"]}?move=1#change"' in listed and "青峰村" in listed
        moving = sup.get(f"/visits/{visit['id']}?move=1").text
        assert '<details id="change" open>' in moving
        r = api(
            "supervisor",
            "POST",
            f"/api/v1/visits/{visit['id']}/change",
            json={"version": 1, "date": "2027-02-15", "reason": "春节放假"},
        )
        assert r.status_code == 200, r.text
        assert 'id="days-off"' not in sup.get("/visits").text
    finally:
        with vnode.runtime.db.uow() as uow:
            guard.bulk(uow.session, "test set-up")
            uow.session.execute(text("DELETE FROM calendar_days WHERE year = 2027"))
            uow.session.execute(text("DELETE FROM calendar_years WHERE year = 2027"))
            uow.commit()
        vnode.runtime.invalidate()


def test_the_plan_page_flags_each_estimated_date(browser, vnode: Node) -> None:  # type: ignore[no-untyped-def]
    vnode.clock.now = FIXED_NOW + timedelta(days=83)  # 2026-12-21
    try:
        r = browser("supervisor").get("/visits/plan?from=2026-12-21&to=2027-01-15&interval=7")
        assert r.status_code == 200, r.text
        rows = re.findall(r'name="d\d+" value="([^"]+)"(.*?)</td>', r.text, re.S)
        assert rows and any(d.startswith("2027") for d, _ in rows)
        for day, cell in rows:
            assert ('class="badge light-yellow estimated"' in cell) == day.startswith("2027"), day
    finally:
        vnode.clock.now = FIXED_NOW
