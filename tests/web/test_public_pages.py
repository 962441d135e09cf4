"""The citizen's pages (issue 10): where to go, the tail never in a URL, Chinese 404 pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tests.api.helpers import intake_body
from tests.conftest import FIXED_NOW, Node
from yibao.stations import rules
from yibao.stations.models import Station

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


def take(client: TestClient, login, user: str = "clerk_f01", **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = intake_body(**over)
    r = client.post("/api/v1/cases", json=body, headers=login(user))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    out["id_tail"] = body["applicant"]["id_number"][-4:]
    return out


def no_tail_in_urls(html: str, tail: str) -> None:
    """No link, form action or redirect target on the page carries the ID tail."""
    assert "id_tail=" not in html
    for url in re.findall(r'(?:href|action)="([^"]*)"', html):
        assert tail not in url, url


# ---------------------------------------------------------------- the lookup form POSTs


def test_qr_link_asks_for_the_tail_in_a_form_that_posts(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    case = take(client, login)
    no, tail = case["case_no"], case["id_tail"]
    ask = client.get(f"/public/cases/{no}", headers=HTML)
    assert ask.status_code == 200 and "身份证号后四位" in ask.text
    assert re.search(rf'<form class="card" method="post" action="/public/cases/{no}">', ask.text)

    page = client.post(f"/public/cases/{no}", data={"id_tail": tail}, headers=HTML)
    assert page.status_code == 200 and "已受理" in page.text and no in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    no_tail_in_urls(page.text, tail)

    # The same 404 for a wrong tail and an unknown number; a missing tail asks again.
    wrong = "0000" if tail != "0000" else "1111"
    a = client.post(f"/public/cases/{no}", data={"id_tail": wrong}, headers=HTML)
    b = client.post("/public/cases/999999999999999", data={"id_tail": tail}, headers=HTML)
    assert a.status_code == b.status_code == 404
    assert "未找到该办件" in a.text and "未找到该办件" in b.text and "已受理" not in a.text
    empty = client.post(f"/public/cases/{no}", data={}, headers=HTML)
    assert empty.status_code == 422 and "请输入身份证号后四位" in empty.text


def test_typed_lookup_posts_both_fields(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    case = take(client, login)
    index = client.get("/public/", headers=HTML)
    assert 'method="post" action="/public/cases"' in index.text and 'name="case_no"' in index.text
    r = client.post(
        "/public/cases", data={"case_no": f" {case['case_no']} ", "id_tail": case["id_tail"]}
    )
    assert r.status_code == 200 and "已受理" in r.text
    no_tail_in_urls(r.text, case["id_tail"])
    assert (
        client.post("/public/cases", data={"case_no": "x/../y", "id_tail": "1234"}).status_code
        == 404
    )


def test_json_contract_keeps_the_query_and_the_same_404(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    case = take(client, login)
    r = client.get(
        f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]}, headers=JSON
    )
    assert r.status_code == 200 and r.json()["state"] == "received"
    assert "rating" in r.json()  # the rating slice's section, through the hook
    a = client.get(f"/public/cases/{case['case_no']}", params={"id_tail": "0000"}, headers=JSON)
    b = client.get("/public/cases/1", params={"id_tail": case["id_tail"]}, headers=JSON)
    if case["id_tail"] != "0000":
        assert a.status_code == b.status_code == 404 and a.json() == b.json()


def test_lookups_by_form_are_rate_limited(client: TestClient, clean: Node) -> None:
    limit = clean.settings.public_rate_per_minute
    codes = [
        # A different number each time: one number takes only 10 wrong tails a day.
        client.post(f"/public/cases/{i + 1}", data={"id_tail": "1234"}).status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [404] * limit and codes[-1] == 429
    # Showing the form is not a lookup, and the JSON lookup shares the same budget.
    assert client.get("/public/cases/1", headers=HTML).status_code == 200
    assert client.get("/public/cases/1?id_tail=1234", headers=JSON).status_code == 429


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case_no=st.text(max_size=40), id_tail=st.text(max_size=40))
def test_any_form_input_is_answered_never_a_500(
    client: TestClient, case_no: str, id_tail: str
) -> None:
    r = client.post("/public/cases", data={"case_no": case_no, "id_tail": id_tail})
    assert r.status_code in (404, 422, 429), r.text
    if "\x00" not in case_no + id_tail:  # a NUL is refused by the NulGuard (problem+json)
        assert r.headers["content-type"].startswith("text/html")


# ---------------------------------------------------------------- where to go


def test_page_shows_the_stations_address_hours_and_a_tel_link(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    case = take(client, login)
    r = client.get(
        f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]}, headers=JSON
    )
    station = r.json()["station"]
    assert station["name"] == "重庆医科大学附属永川医院医保服务站"
    assert station["address"] == "重庆医科大学附属永川医院门诊大厅"
    assert station["opening_hours"].startswith("周一至周日 8:00–12:00")
    assert (station["phone"], station["tel"]) == ("023-49000201", "tel:02349000201")
    page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
    assert '<a id="station-phone" class="tel" href="tel:02349000201">' in page.text
    assert "办公时间" in page.text and "重庆医科大学附属永川医院门诊大厅" in page.text


def test_mobile_station_shows_its_round_and_an_estimated_next_visit(
    client: TestClient, login, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    with clean.runtime.db.uow() as uow:
        uow.session.execute(text("DELETE FROM visit_events"))
        uow.session.execute(text("DELETE FROM visits"))
        uow.commit()
    sup = login("supervisor")
    today = client.post(
        "/api/v1/visits",
        json={"station_code": "M01", "village": "青峰村", "date": FIXED_NOW.date().isoformat()},
        headers=sup,
    )
    assert today.status_code == 201, today.text
    # 2027 has no official schedule yet: a visit planned then may move with its holidays.
    later = client.post(
        "/api/v1/visits",
        json={"station_code": "M01", "village": "青峰村", "date": "2027-01-12"},
        headers=sup,
    )
    assert later.status_code == 201, later.text
    case = take(
        client,
        login,
        "clerk_m01",
        station_code="M01",
        channel="mobile",
        service_code="insured_details_change",
        materials=["id_card"],
        visit_id=today.json()["id"],
    )
    r = client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": "request_materials", "version": 1, "missing_materials": ["change_proof"]},
        headers=login("clerk_m01"),
    )
    assert r.status_code == 200, r.text
    view = client.get(
        f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]}, headers=JSON
    ).json()
    assert (view["next_visit"]["date"], view["next_visit"]["estimated"]) == ("2027-01-12", True)
    assert "巡回" in view["station"]["opening_hours"]
    page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
    assert "下次补交材料的机会" in page.text and "2027-01-12" in page.text
    assert "预估：该年节假日安排尚未公布" in page.text and "巡回时间" in page.text


def test_a_due_date_in_an_unscheduled_year_is_flagged_estimated(
    client: TestClient, login, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    clean.clock.now = datetime(2026, 12, 21, 2, 0, tzinfo=UTC)  # 15 working days reach 2027
    try:
        case = take(client, login, service_code="outpatient_reimbursement", materials=["id_card"])
        view = client.get(
            f"/public/cases/{case['case_no']}", params={"id_tail": case["id_tail"]}, headers=JSON
        ).json()
        assert view["due_date"].startswith("2027") and view["due_estimated"] is True
        page = client.post(f"/public/cases/{case['case_no']}", data={"id_tail": case["id_tail"]})
        assert "（预估，节假日安排尚未公布）" in page.text
    finally:
        clean.clock.now = FIXED_NOW


# ---------------------------------------------------------------- unknown public pages


def test_unknown_public_page_is_chinese_html_for_a_browser(client: TestClient) -> None:
    for path in ("/public/nothing-here", "/public/cases/1/rating", "/public/cases/1/x/y"):
        r = client.get(path, headers=HTML)
        assert r.status_code in (404, 405), path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "页面不存在" in r.text and 'href="/public/"' in r.text, path
    api = client.get("/public/nothing-here", headers=JSON)
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    # Outside /public/ nothing changes: staff API clients keep problem+json.
    assert (
        client.get("/api/v1/nothing", headers=HTML)
        .headers["content-type"]
        .startswith("application/problem+json")
    )


# ---------------------------------------------------------------- the admin edits contacts


def test_admin_edits_a_stations_hours_and_phone(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    admin = browser("admin")
    with clean.runtime.db.session() as s:
        t01 = s.scalar(select(Station).where(Station.code == "T01"))
        assert t01 is not None
        original = {
            "name": t01.name,
            "master": t01.master or "",
            "address": t01.address or "",
            "opening_hours": t01.opening_hours or "",
            "phone": t01.phone or "",
            "active": "1",
        }
    form = admin.get("/admin/stations/T01")
    assert 'name="opening_hours"' in form.text and 'name="phone"' in form.text
    assert original["phone"] in form.text
    try:
        bad = admin.post("/admin/stations/T01", {**original, "phone": "call me"})
        assert bad.status_code == 422 and "请填写电话号码" in bad.text
        ok = admin.post(
            "/admin/stations/T01",
            {**original, "opening_hours": "周一至周六 9:00–17:00", "phone": "023 4900 0399"},
            follow_redirects=False,
        )
        assert ok.status_code == 303, ok.text
        with clean.runtime.db.session() as s:
            row = s.scalar(select(Station).where(Station.code == "T01"))
            assert row is not None
            assert (row.opening_hours, row.phone) == ("周一至周六 9:00–17:00", "023 4900 0399")
    finally:
        admin.post("/admin/stations/T01", original)


# ---------------------------------------------------------------- the phone rule (pure)


@given(st.text(max_size=30))
def test_tel_href_is_digits_only_for_any_text(text_: str) -> None:
    href = rules.tel_href(text_)
    if href is not None:
        assert re.fullmatch(r"tel:\+?[0-9]{5,15}", href)
        assert rules.phone_ok(text_)


def test_phone_rule_examples() -> None:
    assert rules.tel_href("023-49000118") == "tel:02349000118"
    assert rules.tel_href("+86 138 0013 8000") == "tel:+8613800138000"
    assert rules.tel_href("12393") == "tel:12393"
    for bad in ("", "1234", "call me", "023--", "-023", "0" * 21, "０２３４９０００１１８"):
        assert rules.tel_href(bad) is None, bad


def test_every_shipped_station_has_hours_and_a_dialable_phone() -> None:
    from yibao.stations.service import network_files

    _agencies, network = network_files("500118")
    for s in network["stations"]:
        assert s.get("opening_hours"), s["code"]
        assert len(s["opening_hours"]) <= rules.MAX_HOURS, s["code"]
        assert rules.tel_href(s.get("phone")), s["code"]
        if s["kind"] == "mobile":  # a mobile station's hours are its round of visits
            assert "巡回" in s["opening_hours"], s["code"]


def test_the_rating_slice_does_not_import_the_citizen_page() -> None:
    # The cycle cases.public <-> ratings.service is broken: the rating finds the case through
    # cases.lookup, and the page gets the rating through a registered section.
    import subprocess
    import sys
    from pathlib import Path

    probe = "import sys, yibao.ratings.service; print('yibao.cases.public' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False", out.stdout + out.stderr
    import yibao.cases.public as page

    assert "yibao.ratings" not in Path(page.__file__).read_text("utf-8")


def test_a_rating_with_an_odd_digit_is_a_422_not_a_500(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    case = take(client, login)
    r = client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": "complete", "version": case["version"]},
        headers=login("clerk_f01"),
    )
    assert r.status_code == 200, r.text
    body = {"id_tail": case["id_tail"], "overall": 5, "efficiency": 5, "service_level": 5}
    r = client.post(f"/public/cases/{case['case_no']}/rating", json={**body, "attitude": "¹"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["attitude"]
