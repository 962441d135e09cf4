"""The bureau overview's first screen and its tabs, as a supervisor and an officer see them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import FIXED_NOW, Node
from tests.ratings.conftest import api, completed, scores  # noqa: F401 (fixtures)
from tests.web.test_reports import TODAY, body_rows, world  # noqa: F401 (fixture)
from yibao.audit import guard
from yibao.calendar.rules import WorkCalendar
from yibao.cases.lifecycle import OPEN
from yibao.cases.models import Case
from yibao.cases.queries import overdue_clause
from yibao.ratings.models import RectificationTask
from yibao.transfers.api import transfer_dict
from yibao.transfers.models import Transfer

TABS = ("/overview/stations", "/overview/ratings", "/overview/trips")


def figure(html: str, name: str) -> str:
    m = re.search(rf'id="headline-{name}">\s*([^<]*?)\s*<', html)
    assert m, f"headline figure {name} not on the page"
    return m.group(1)


def _transfer(node: Node, *, state: str | None, applied: date, **dates: Any) -> None:
    """A transfer row as the federation would leave it (agreements: national, 泸永江)."""
    with node.runtime.db.session() as s:
        guard.bulk(s, "test set-up")
        s.add(
            Transfer(
                id=uuid.uuid4(),
                agency=node.runtime.agency,
                role="in",
                counterpart="510500",
                agreement=dates.pop("agreement", "national"),
                state=state,
                person_id_number="110101199003071234",
                person_name="张三",
                applied_at=datetime.combine(applied, datetime.min.time(), UTC),
                applied_date=applied,
                version=1,
                **dates,
            )
        )
        s.commit()


@pytest.fixture
def busy(world, client: TestClient, completed, clean: Node) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The reports' world, two bad ratings at F01 (one still open) and four transfers."""
    for _ in range(2):
        case = completed()
        r = client.post(
            f"/public/cases/{case['case_no']}/rating",
            json={"id_tail": case["id_tail"], **scores(1)},
        )
        assert r.status_code in (200, 201), r.text
    with clean.runtime.db.session() as s:  # one of the two tasks closed after its rectification
        guard.bulk(s, "test set-up")
        task = s.scalars(select(RectificationTask)).first()
        assert task is not None
        task.state, task.closed_date, task.rectified_date = "closed", TODAY, TODAY
        s.commit()
    _transfer(clean, state="checking", applied=TODAY - timedelta(days=30), letter_date=TODAY)
    _transfer(clean, state="requested", applied=TODAY)  # national: 15 working days, not at risk
    _transfer(clean, state="remitted", applied=TODAY - timedelta(days=40), remitted_date=TODAY)
    _transfer(clean, state="completed", applied=TODAY - timedelta(days=40))
    return {}


def _recount(node: Node, *, first: date, last: date) -> dict[str, int]:
    """The four figures counted again straight from the tables (agency-wide, every station)."""
    today = node.runtime.today()
    with node.runtime.db.session() as s:
        guard.bulk(s, "test set-up")
        cases = s.scalars(select(Case)).all()
        overdue_ids = set(s.scalars(select(Case.id).where(overdue_clause(today))))
        done = [
            c for c in cases if c.state == "completed" and first <= (c.closed_date or first) <= last
        ]
        open_ = [c for c in cases if c.state in {st.value for st in OPEN}]
        tasks = [t for t in s.scalars(select(RectificationTask)) if t.state != "closed"]
        transfers = [
            transfer_dict(t, node.runtime)
            for t in s.scalars(select(Transfer))
            if t.state not in ("completed", "refused", "withdrawn")
        ]
    at_risk = [t for t in transfers if t["step_due"] and t["step_due"] <= today.isoformat()]
    return {
        "completed": len(done),
        "on_time": sum(c.closed_date is not None and c.closed_date <= c.due_date for c in done),
        "overdue": sum(c.id in overdue_ids for c in open_),
        "bad_open": len(tasks),
        "transfers_at_risk": len(at_risk),
    }


def test_first_screen_figures_equal_a_recount(browser, busy, clean: Node) -> None:  # type: ignore[no-untyped-def]
    r = browser("supervisor").get("/overview")
    assert r.status_code == 200, r.text
    html = r.text
    want = _recount(clean, first=TODAY - timedelta(days=29), last=TODAY)
    assert want["completed"] >= 3 and want["bad_open"] == 1 and want["transfers_at_risk"] == 2
    rate = f"{want['on_time'] / want['completed'] * 100:.1f}%"
    assert figure(html, "on-time") == rate
    assert f"按时 {want['on_time']} 件" in html and f"办结 {want['completed']} 件" in html
    assert figure(html, "overdue") == str(want["overdue"]) and want["overdue"] == 4
    assert figure(html, "bad-open") == "1"
    assert figure(html, "transfers") == "2"
    # The first screen is the headline and the tab links, not the tables behind them.
    assert 'id="overview"' not in html and 'id="ratings-stations"' not in html
    for tab in TABS:
        assert f'href="{tab}?kind=&amp;town=&amp;from=2026-08-31&amp;to=2026-09-29"' in html


def test_each_tab_is_a_page_and_a_fragment(browser, busy) -> None:  # type: ignore[no-untyped-def]
    for user in ("supervisor", "officer"):
        b = browser(user)
        for tab, table in zip(TABS, ("overview", "ratings-stations", "trips-town"), strict=True):
            page = b.get(tab + "?kind=fixed")
            assert page.status_code == 200, (user, tab, page.text)
            assert f'id="{table}"' in page.text and 'id="headline"' in page.text
            assert 'value="fixed" selected' in page.text  # the filter is carried over
            link = page.text.split(f'id="tab-{tab.rsplit("/", 1)[1]}"')[1].split("</a>")[0]
            assert 'aria-current="page"' in link
            part = b.htmx("GET", tab + "?kind=fixed")
            assert part.status_code == 200 and part.headers["vary"] == "HX-Request"
            assert f'id="{table}"' in part.text and "<html" not in part.text
            assert 'id="headline"' not in part.text
            assert "kind=fixed" in part.text  # tab links keep the filter
            # The filter form comes along out of band, so it filters the tab now open.
            assert f'action="{tab}"' in part.text and 'hx-swap-oob="true"' in part.text
    rows = body_rows(browser("supervisor").get("/overview/stations?kind=fixed").text, "overview")
    assert set(rows) == {"F01", "F02"}


def test_period_links_carry_the_other_filters(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    html = browser("supervisor").get("/overview/trips?town=500118109").text
    quick = html.split('id="quick-periods"')[1].split("</p>")[0]
    links = re.findall(r'href="([^"]+)"', quick)
    assert links == [
        "/overview/trips?kind=&amp;town=500118109&amp;from=2026-09-01&amp;to=2026-09-29",
        "/overview/trips?kind=&amp;town=500118109&amp;from=2026-07-01&amp;to=2026-09-29",
        "/overview/trips?kind=&amp;town=500118109&amp;from=2026-01-01&amp;to=2026-09-29",
    ]
    assert "本月" in quick and "本季度" in quick and "本年" in quick


def test_tabs_are_refused_to_station_staff(browser, client: TestClient, clean: Node) -> None:  # type: ignore[no-untyped-def]
    for user in ("clerk_f01", "master_f01", "auditor"):
        b = browser(user)
        for path in ("/overview", *TABS):
            r = b.get(path)
            assert r.status_code == 403 and "无权打开此页面" in r.text, (user, path)
            assert b.htmx("GET", path).status_code == 403
    for path in TABS:
        assert client.get(path, follow_redirects=False).status_code == 303


def test_a_bad_filter_names_the_field_on_every_tab(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    b = browser("officer")
    for path in ("/overview", *TABS):
        r = b.get(path + "?kind=castle")
        assert r.status_code == 422 and "未知的服务站类型" in r.text
        assert 'aria-invalid="true" aria-describedby="e-kind"' in r.text
        r = b.get(path + "?from=2026-02-30")
        assert r.status_code == 422 and "请输入日期" in r.text
        part = b.htmx("GET", path + "?to=2026-01-01")
        if path == "/overview":
            assert part.status_code == 422 and "结束日期早于开始日期" in part.text
        else:
            assert part.status_code == 422 and "<html" not in part.text
            assert "结束日期早于开始日期" in part.text


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(("/overview", *TABS, "/overview.xlsx")),
    name=st.sampled_from(("kind", "town", "from", "to", "tab", "kind[]")),
    value=st.text(max_size=60).filter(lambda v: "\x00" not in v),
    htmx=st.booleans(),
)
def test_odd_query_strings_give_no_500(browser, clean: Node, path, name, value, htmx) -> None:  # type: ignore[no-untyped-def]
    b = _officer(browser)
    r = b.htmx("GET", path, params={name: value}) if htmx else b.get(path, params={name: value})
    assert r.status_code in (200, 422), (path, name, value, r.status_code)
    if r.status_code == 422 and "text/html" in r.headers.get("content-type", ""):
        assert "notice error" in r.text


_officers: dict[int, Any] = {}


def _officer(browser):  # type: ignore[no-untyped-def]
    # One sign-in per test run (argon2 is slow); hypothesis calls the body many times.
    key = id(browser)
    if key not in _officers:
        _officers.clear()
        _officers[key] = browser("officer")
    return _officers[key]


def test_calendar_warning_on_the_first_screen(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    assert "calendar-warning" not in browser("supervisor").get("/overview").text  # 29 Sep
    clean.clock.now = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    cal = clean.runtime.reference().calendar
    assert isinstance(cal, WorkCalendar) and not cal.is_official(2027)
    html = browser("supervisor").get("/overview").text  # signed in again: a month went by
    assert "calendar-warning" in html and "2027" in html.split("calendar-warning")[1][:400]
    clean.clock.now = FIXED_NOW


def test_the_first_screen_in_english(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    b = browser("supervisor")
    b.client.cookies.set("lang", "en")
    html = b.get("/overview").text
    for text in ("Completed on time", "Bad ratings open", "Transfers at risk", "This quarter"):
        assert text in html
    assert ">Fewer trips<" in html and "按时办结" not in html
