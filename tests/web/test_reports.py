"""Station dashboard and bureau overview, as their users see them, and the report use cases."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.api.helpers import intake_body
from tests.conftest import FIXED_NOW, Node
from yibao.accounts.models import User
from yibao.accounts.rules import Actor
from yibao.accounts.service import actor_of
from yibao.cases.models import Case
from yibao.cases.queries import overdue_clause
from yibao.errors import Forbidden, ValidationFailed
from yibao.reports import service

MONDAY = datetime(2026, 9, 21, 2, 0, tzinfo=UTC)  # 10:00 in Chongqing, a week before FIXED_NOW
TODAY = date(2026, 9, 29)


# ---------------------------------------------------------------- a small world of cases


def _take(client: TestClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/cases", json=intake_body(**over), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _act(
    client: TestClient, headers: dict[str, str], case: dict[str, Any], action: str, **extra: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": action, "version": case["version"], **extra},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def world(client: TestClient, login, clean: Node) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Cases at F01, F02 and M01 taken on Monday 9/21 and today, Tuesday 9/29.

    F01: c1 completed the same day (on time); c2 completed today, 5 working days late (9/25 is
    the Mid-Autumn holiday); c3 and c4 (c4 taken by the master) still open and overdue; c5
    taken today and due today; c6 a reimbursement taken today and forwarded to the bureau.
    """
    clerk, master = login("clerk_f01"), login("master_f01")
    clean.clock.now = MONDAY
    c1 = _take(client, clerk)
    c2 = _take(client, clerk)
    _take(client, clerk)  # c3
    _take(client, master)  # c4
    _take(client, login("clerk_f02"), station_code="F02")
    _take(client, login("clerk_m01"), station_code="M01")
    _act(client, clerk, c1, "complete")
    clean.clock.now = FIXED_NOW
    _act(client, clerk, c2, "complete")
    c5 = _take(client, clerk)
    assert c5["due_date"] == TODAY.isoformat()
    c6 = _take(client, clerk, service_code="outpatient_reimbursement")
    _act(client, clerk, c6, "forward", to_unit="bureau")
    return {}


# ---------------------------------------------------------------- reading pages


class _Tables(HTMLParser):
    """Every table of a page by id: rows of cell texts (thead, tbody and tfoot)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self._table: str | None = None
        self._part = "tbody"
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = {"thead": [], "tbody": [], "tfoot": []}
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table][self._part].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, dict[str, list[list[str]]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def card(html: str, name: str) -> int:
    m = re.search(rf'id="card-{name}">\s*(\d+)\s*<', html)
    assert m, f"card {name} not found"
    return int(m.group(1))


def chart_data(html: str) -> dict[str, Any]:
    m = re.search(r"data-chart-data='([^']*)'", html)
    assert m, "no chart data on the page"
    data: dict[str, Any] = json.loads(unescape(m.group(1)))
    return data


def body_rows(html: str, table: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in tables(html)[table]["tbody"]}


# ---------------------------------------------------------------- station dashboard


def test_dashboard_shows_the_masters_station(browser, world) -> None:  # type: ignore[no-untyped-def]
    r = browser("master_f01").get("/dashboard")
    assert r.status_code == 200, r.text
    html = r.text
    assert "站点看板" in html and "重庆医科大学附属永川医院医保服务站" in html
    assert card(html, "intake") == 2  # c5, c6
    assert card(html, "open") == 4  # c3, c4, c5, c6
    assert card(html, "due") == 1  # c5
    assert card(html, "overdue") == 2  # c3, c4
    assert "其中在其他单位: 1" in html  # c6 sits with the bureau hall now

    clerks = body_rows(html, "clerks")
    #                      taken open overdue done on-time median
    assert clerks["clerk_f01"] == ["5", "3", "1", "2", "50.0%", "2.5"]
    assert clerks["master_f01"] == ["1", "1", "1", "0", "—", "—"]
    assert tables(html)["clerks"]["tfoot"] == [["合计", "6", "4", "2", "2", "50.0%", "2.5"]]
    items = body_rows(html, "items")
    assert items["参保信息查询、出具参保凭证"] == ["5", "3", "2", "2", "50.0%", "2.5"]
    assert items["零星报销（门诊）"] == ["1", "1", "0", "0", "—", "—"]

    data = chart_data(html)
    assert len(data["days"]) == 30 and data["days"][-1] == TODAY.isoformat()
    day = {d: i for i, d in enumerate(data["days"])}
    assert data["intake"][day["2026-09-21"]] == 4 and data["intake"][day["2026-09-29"]] == 2
    assert data["completed"][day["2026-09-21"]] == 1 and data["completed"][day["2026-09-29"]] == 1
    # c2, c3, c4 overdue from the day after their due date; c2 leaves when completed today.
    assert data["overdue"][day["2026-09-21"]] == 0
    assert data["overdue"][day["2026-09-22"]] == 3 and data["overdue"][day["2026-09-28"]] == 3
    assert data["overdue"][-1] == 2 == card(html, "overdue")
    assert "echarts.common.min.js" in html


def test_dashboard_period_filter_and_bad_dates(browser, world) -> None:  # type: ignore[no-untyped-def]
    b = browser("master_f01")
    html = b.get("/dashboard?from=2026-09-22&to=2026-09-28").text
    assert body_rows(html, "clerks") == {
        "clerk_f01": ["0", "3", "1", "0", "—", "—"],
        "master_f01": ["0", "1", "1", "0", "—", "—"],
    }
    assert card(html, "intake") == 2  # today's cards do not follow the period
    assert chart_data(html)["overdue"] == [3] * 7

    r = b.get("/dashboard?from=2026-02-30&to=2026-01-01")
    assert r.status_code == 422
    assert "请输入日期" in r.text and 'aria-invalid="true"' in r.text
    r = b.get("/dashboard?from=2026-09-29&to=2026-09-01")
    assert r.status_code == 422 and "结束日期早于开始日期" in r.text
    r = b.get("/dashboard?from=2024-01-01&to=2026-09-01")
    assert r.status_code == 422 and "最长" in r.text


def test_dashboard_in_english(browser, world) -> None:  # type: ignore[no-untyped-def]
    b = browser("master_f01")
    b.client.cookies.set("lang", "en")
    html = b.get("/dashboard").text
    assert "Station dashboard" in html and "Clerk who took the case" in html
    assert "Insurance record and certificate of insurance" in html


def test_reports_refuse_other_roles(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    for username, path in [
        ("clerk_f01", "/dashboard"),
        ("clerk_f01", "/overview"),
        ("clerk_f01", "/overview.xlsx"),
        ("master_f01", "/overview"),
        ("supervisor", "/dashboard"),
        ("officer", "/dashboard"),
        ("auditor", "/overview"),
        ("admin", "/dashboard"),
    ]:
        r = browser(username).get(path)
        assert r.status_code == 403, (username, path)
        assert "无权打开此页面" in r.text


def test_reports_need_a_session(client: TestClient, clean: Node) -> None:
    for path in ("/dashboard", "/overview", "/overview.xlsx"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ---------------------------------------------------------------- bureau overview


def test_overview_rows_and_filters(browser, world) -> None:  # type: ignore[no-untyped-def]
    b = browser("supervisor")
    r = b.get("/overview/stations")
    assert r.status_code == 200, r.text
    html = r.text
    rows = body_rows(html, "overview")
    assert len(rows) == 23  # every station of the seed network
    #   name, kind, town, taken, open, overdue, on-time, median
    assert rows["F01"] == [
        "重庆医科大学附属永川医院医保服务站",
        "固定服务站",
        "胜利路街道",
        "6",
        "4",
        "2",
        "50.0%",
        "2.5",
    ]
    assert rows["F02"][3:] == ["1", "1", "1", "—", "—"]
    assert rows["M01"][1] == "流动服务站" and rows["M01"][3:6] == ["1", "1", "1"]
    assert rows["V01"][3:] == ["0", "0", "0", "—", "—"]
    assert rows["—"][:2] == ["永川区医疗保障局服务大厅", "区医保局大厅"]  # no code shown
    total = tables(html)["overview"]["tfoot"][0]
    assert total[0] == "合计" and total[4:] == ["8", "6", "4", "50.0%", "2.5"]
    assert 'id="chart-on_time_rate"' in html

    mobile = b.get("/overview/stations?kind=mobile").text
    rows = body_rows(mobile, "overview")
    assert len(rows) == 18 and "F01" not in rows and "M01" in rows
    assert {r[1] for r in rows.values()} == {"流动服务站"}
    assert 'value="mobile" selected' in mobile

    town = body_rows(b.get("/overview/stations?town=500118109").text, "overview")  # 来苏镇
    assert set(town) == {"T01", "M09"}

    # A period before anything happened: intake and completions are empty, open stays.
    early = body_rows(b.get("/overview/stations?from=2026-09-01&to=2026-09-20").text, "overview")
    assert early["F01"][3:] == ["0", "4", "2", "—", "—"]


def test_overview_bad_filters_name_the_field(browser, clean: Node) -> None:  # type: ignore[no-untyped-def]
    b = browser("officer")
    r = b.get("/overview?kind=castle")
    assert r.status_code == 422 and "未知的服务站类型" in r.text
    r = b.get("/overview?town=999")
    assert r.status_code == 422 and "未知的镇街" in r.text
    r = b.get("/overview?from=yesterday")
    assert r.status_code == 422 and "请输入日期" in r.text
    r = b.get("/overview.xlsx?to=2026-99-99")
    assert r.status_code == 422
    assert b.get("/overview?kind=&town=&from=&to=").status_code == 200


def test_overview_xlsx_is_the_visible_table(browser, world) -> None:  # type: ignore[no-untyped-def]
    b = browser("officer")
    query = "?kind=fixed&from=2026-09-01&to=2026-09-29"
    page = tables(b.get("/overview/stations" + query).text)["overview"]
    r = b.get("/overview.xlsx" + query)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.headers["content-disposition"].startswith("attachment;")
    assert 'filename="overview-20260901-20260929.xlsx"' in r.headers["content-disposition"]

    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    assert ws.freeze_panes == "A2"
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    header, rows = values[0], values[1:]
    assert header == [
        "站点编码",
        "服务站",
        "服务站类型",
        "所在镇街",
        "受理量",
        "在办",
        "超期",
        "按时办结率",
        "办结用时中位数（工作日）",
    ]
    assert [c for c in page["thead"][0]] == header

    def shown(col: int, v: Any) -> str:
        if v is None:
            return "—" if col >= 7 else ""
        if col == 7:
            return f"{v * 100:.1f}%"
        if col == 8:
            return f"{v:.1f}"
        return str(v)

    assert [[shown(i, v) for i, v in enumerate(row)] for row in rows] == (
        page["tbody"] + page["tfoot"]
    )
    f01 = next(row for row in rows if row[0] == "F01")
    assert f01[4:] == [6, 4, 2, 0.5, 2.5]  # numbers as numbers
    assert isinstance(f01[4], int) and isinstance(f01[7], float)
    f01_row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "F01")
    assert f01_row[7].number_format == "0.0%" and f01_row[8].number_format == "0.0"
    assert ws.column_dimensions["B"].width > ws.column_dimensions["A"].width
    assert rows[-1][0] == "合计"


# ---------------------------------------------------------------- the use cases themselves


def _actor(clean: Node, username: str) -> Actor:
    with clean.runtime.db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return actor_of(user)


def test_service_scoping_and_figures(world, clean: Node) -> None:  # type: ignore[no-untyped-def]
    rt = clean.runtime
    master = _actor(clean, "master_f01")
    supervisor = _actor(clean, "supervisor")
    with rt.db.session() as s:
        board = service.station_dashboard(s, runtime=rt, actor=master)
        assert board.station_code == "F01" and board.today == TODAY
        assert board.period == service.Period(TODAY - timedelta(days=29), TODAY)
        t = board.today_measures
        assert (t.intake, t.completed, t.open, t.open_elsewhere, t.due_today, t.overdue) == (
            2,
            1,
            4,
            1,
            1,
            2,
        )
        assert board.total.on_time_rate == 0.5 and board.total.median_days == 2.5
        assert sum(c.measures.intake for c in board.clerks) == board.total.intake == 6
        assert board.trend.overdue[-1] == t.overdue
        # The end of the overdue series is exactly what the case lists call overdue.
        n = len(
            s.scalars(
                select(Case.id).where(Case.intake_station == "F01", overdue_clause(TODAY))
            ).all()
        )
        assert n == t.overdue

        # A past period: today's cards are still today's.
        past = service.station_dashboard(
            s, runtime=rt, actor=master, period=service.Period(date(2026, 9, 1), date(2026, 9, 10))
        )
        assert past.total.intake == 0 and past.today_measures.intake == 2

        overview = service.bureau_overview(
            s,
            runtime=rt,
            actor=supervisor,
            filters=service.OverviewFilter(period=service.default_period(TODAY)),
        )
        f01 = next(r for r in overview.rows if r.code == "F01")
        assert (f01.measures.intake, f01.measures.open, f01.measures.overdue) == (6, 4, 2)
        assert overview.total.intake == 8 and ("500118109", "来苏镇") in overview.towns

        for who in ("clerk_f01", "auditor", "admin", "supervisor"):
            with pytest.raises(Forbidden):
                service.station_dashboard(s, runtime=rt, actor=_actor(clean, who))
        for who in ("clerk_f01", "master_f01", "auditor", "admin"):
            with pytest.raises(Forbidden):
                service.bureau_overview(
                    s,
                    runtime=rt,
                    actor=_actor(clean, who),
                    filters=service.OverviewFilter(period=service.default_period(TODAY)),
                )
        with pytest.raises(ValidationFailed) as bad:
            service.bureau_overview(
                s,
                runtime=rt,
                actor=supervisor,
                filters=service.OverviewFilter(
                    period=service.default_period(TODAY), kind="castle", town="nowhere"
                ),
            )
        assert {e.field for e in bad.value.errors} == {"kind", "town"}


def test_parse_period() -> None:
    today = date(2026, 9, 29)
    assert service.parse_period(None, " ", today=today) == service.Period(date(2026, 8, 31), today)
    assert service.parse_period("2026-01-01", "2026-12-31", today=today).days[-1] == date(
        2026, 12, 31
    )
    with pytest.raises(ValidationFailed) as bad:
        service.parse_period("2026-1-1", "x", today=today)
    assert [e.field for e in bad.value.errors] == ["from", "to"]
    with pytest.raises(ValidationFailed):
        service.parse_period("2025-01-01", "2026-01-02", today=today)


def test_median_and_lights() -> None:
    from collections import Counter

    assert service.weighted_median(Counter()) is None
    assert service.weighted_median(Counter({0: 1, 6: 1})) == 3.0
    assert service.weighted_median(Counter({0: 5, 9: 1, 2: 3})) == 0.0
    assert service.weighted_median(Counter({1: 2, 4: 2})) == 2.5
    assert service.rate_light(None) is None
    assert service.rate_light(0.95) == "green"
    assert service.rate_light(0.9) == "yellow"
    assert service.rate_light(0.5) == "red"
    assert service.overdue_light(0, 10) == "green"
    assert service.overdue_light(1, 10) == "yellow"
    assert service.overdue_light(2, 10) == "red"


def test_overview_xlsx_has_the_rating_tables(browser, world) -> None:  # type: ignore[no-untyped-def]
    b = browser("officer")
    query = "?kind=fixed&from=2026-09-01&to=2026-09-29"
    page = tables(b.get("/overview/ratings" + query).text)["ratings-stations"]
    wb = load_workbook(io.BytesIO(b.get("/overview.xlsx" + query).content))
    ws = wb["各服务站评价情况"]
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    assert len(values) - 1 == len(page["tbody"]) + len(page["tfoot"])
    f01 = next(row for row in values if str(row[0]).startswith("F01 "))
    assert f01[1:4] == [2, 0, 0.0]  # two cases completed at F01 in the period, none rated yet
    assert values[-1][0] == "合计"
    assert [c for c in page["thead"][0]][1:] == values[0][1:]
