"""The inspection pages: the bureau inspects through the form, the station master rectifies on
their page (open items and measures), the bureau verifies; each role sees only its part."""

from __future__ import annotations

import re

from tests.api.helpers import intake_body
from tests.inspections.conftest import PNG, inspect
from yibao.inspections import service

ITEMS = [i.code for i in service.checklist().items]


def _form(station: str = "F01", fail: dict[str, str] | None = None) -> dict[str, str]:
    fail = fail or {}
    data = {
        "station": station,
        "date": "2026-09-29",
        "inspectors": "王建华，李娟",
        "deadline_days": "10",
    }
    for code in ITEMS:
        data[f"r_{code}"] = "fail" if code in fail else "pass"
        data[f"n_{code}"] = fail.get(code, "")
    return data


def test_the_bureau_inspects_through_the_form(browser) -> None:  # type: ignore[no-untyped-def]
    officer = browser("officer")
    page = officer.get("/inspections/new?station=F01")
    assert page.status_code == 200
    assert "高拍仪" in page.text and "医保专网" in page.text and 'value="F01" selected' in page.text

    # A failed item without a note, and one item left unanswered: both marked, nothing saved.
    data = _form(fail={"premises_signage": ""})
    del data["r_staff_records"]
    r = officer.post("/inspections/new/attachments", data=data)
    assert r.status_code == 422
    assert "不合格项须说明问题" in r.text and "请选择合格或不合格" in r.text
    assert officer.get("/inspections").text.count("尚未检查") > 0

    r = officer.post(
        "/inspections/new/attachments",
        data=_form(fail={"premises_signage": "门牌缺失", "network_backup": "无备用链路"}),
        files={"p_premises_signage": ("门牌.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = officer.get(r.headers["location"])
    assert page.status_code == 200
    assert re.search(r'id="score">\s*(\d+)<', page.text).group(1) == "89"  # 25/28
    assert "门牌缺失" in page.text and "无备用链路" in page.text
    assert "/items/premises_signage/photos/" in page.text
    photo = re.search(r'src="(/inspections/[^"]+/photos/[^"]+)"', page.text).group(1)
    assert officer.get(photo).content == PNG
    assert "待整改" in page.text and "2026-10-19" in page.text

    listing = officer.get("/inspections")
    row = re.search(r'id="station-F01">(.*?)</tr>', listing.text, re.S).group(1)
    assert ">89<" in row and "2026-09-29" in row
    history = officer.get("/inspections/stations/F01")
    assert 'id="chart-scores"' in history.text and '"scores": [89]' in history.text


def test_station_master_page_shows_open_items_and_measures(browser, api) -> None:  # type: ignore[no-untyped-def]
    made = inspect(
        api, fail={"equipment_camera": "高拍仪损坏", "staff_trained": "一名经办员未持证"}
    )
    for _ in range(2):
        assert (
            api(
                "clerk_f01", "POST", "/api/v1/cases", json=intake_body(station_code="F01")
            ).status_code
            == 201
        )
    master = browser("master_f01")
    r = master.get("/inspections", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inspections/station"
    page = master.get("/inspections/station")
    assert page.status_code == 200
    assert "高拍仪损坏" in page.text and "一名经办员未持证" in page.text
    assert "2026-10-19" in page.text and "报告已整改" in page.text
    measures = re.search(r'id="measures">(.*?)</section>', page.text, re.S).group(1)
    assert "近30天" in measures and "本年" in measures
    assert re.findall(r'class="num intake">(\d+)<', measures) == ["2", "2"]
    assert "—" in measures  # no ratings yet

    # Reporting without a note is refused next to the field; with a note and photo it goes through.
    task = next(t for t in made["tasks"] if t["item"] == "equipment_camera")
    form = {"action": "report_fixed", "version": "1", "back": "station", "note": ""}
    r = master.post(f"/inspections/tasks/{task['id']}/attachments", data=form)
    assert r.status_code == 422 and "请填写说明" in r.text
    r = master.post(
        f"/inspections/tasks/{task['id']}/attachments",
        data={**form, "note": "已更换高拍仪"},
        files={"file": ("fix.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = master.get(r.headers["location"])
    assert "已报告整改，等待医保局核验" in page.text and "待核验" in page.text

    # The bureau verifies on the inspection page; the item leaves the station master's page.
    officer = browser("officer")
    page = officer.get(f"/inspections/{made['id']}")
    assert "核验通过" in page.text and "已更换高拍仪" in page.text
    r = officer.post(
        f"/inspections/tasks/{task['id']}/act",
        data={"action": "verify", "version": "2", "back": "inspection"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "已更换高拍仪" not in master.get("/inspections/station").text
    # A stale page: the second click sees the task's new state.
    r = officer.post(
        f"/inspections/tasks/{task['id']}/act",
        data={"action": "verify", "version": "2", "back": "inspection"},
    )
    assert r.status_code == 409


def test_who_sees_which_page(browser, api) -> None:  # type: ignore[no-untyped-def]
    made = inspect(api, fail={"equipment_camera": "高拍仪损坏"})
    clerk = browser("clerk_f01")
    page = clerk.get("/inspections/station")
    assert page.status_code == 200 and "高拍仪损坏" in page.text
    assert 'name="action" value="report_fixed"' not in page.text  # read-only
    assert clerk.get(f"/inspections/{made['id']}").status_code == 200
    assert clerk.get("/inspections/new").status_code == 403
    other = browser("clerk_f02")
    assert other.get(f"/inspections/{made['id']}").status_code == 404
    assert other.get("/inspections/stations/F01").status_code == 404
    assert "高拍仪损坏" not in other.get("/inspections/station").text
    for user in ("auditor", "admin"):
        b = browser(user)
        for url in ("/inspections", "/inspections/station", f"/inspections/{made['id']}"):
            assert b.get(url).status_code == 403, (user, url)
    officer = browser("officer")
    assert officer.get("/inspections/not-a-uuid").status_code == 404
    assert officer.get("/inspections/stations/NOPE").status_code == 404
    assert officer.get("/inspections?kind=castle").status_code == 422
    assert officer.get("/inspections?page=0").status_code == 422
