"""The administrator's pages: users, stations, calendar — and that they hold no case data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from tests.api.helpers import intake_body
from tests.conftest import PASSWORD, Node
from tests.web.conftest import Browser, sign_in
from yibao.accounts.models import User, WebSession
from yibao.audit import guard
from yibao.audit.models import AuditRecord
from yibao.calendar.models import CalendarDay, CalendarYear
from yibao.stations.models import Station

NEW_PASSWORD = "another-password-2"
Login = Callable[[str], dict[str, str]]

VALID_2027 = """\
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知（测试）
holidays:
  - 2027-01-01..2027-01-03
  - 2027-02-06..2027-02-13
workdays:
  - 2027-02-20
"""


def _user(node: Node, username: str) -> User | None:
    with node.runtime.db.session() as s:
        return s.scalar(select(User).where(User.username == username))


def _user_id(node: Node, username: str) -> int:
    user = _user(node, username)
    assert user is not None, username
    return user.id


def _token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _new_clerk(admin: Browser, username: str, station: str = "F01") -> None:
    r = admin.post(
        "/admin/users",
        {
            "username": username,
            "display_name": "王小明",
            "role": "clerk",
            "station": station,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/admin/users?done=created")


@pytest.fixture
def admin(browser: Callable[[str], Browser]) -> Browser:
    return browser("admin")


@pytest.fixture
def forget_2027(clean: Node) -> Iterator[None]:
    """Remove an imported 2027 again, so other tests see the packaged calendar only."""
    yield
    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test set-up")
        uow.session.execute(delete(CalendarYear).where(CalendarYear.year == 2027))
        uow.commit()
    clean.runtime.invalidate()


# ---------------------------------------------------------------- users


def test_admin_creates_a_clerk_who_can_then_sign_in(
    admin: Browser, client: TestClient, clean: Node
) -> None:
    _new_clerk(admin, "wang_xm")
    page = admin.get("/admin/users?done=created&who=wang_xm")
    assert 'class="notice ok"' in page.text and "已创建用户 wang_xm" in page.text
    row = page.text.split("wang_xm</a>", 1)[1].split("</tr>", 1)[0]
    assert "王小明" in row and "窗口经办员" in row and "F01" in row
    user = _user(clean, "wang_xm")
    assert user is not None and user.role == "clerk" and user.station_code == "F01"

    clerk = sign_in(TestClient(client.app), "wang_xm")
    assert "王小明" in clerk.get("/account").text

    with clean.runtime.db.session() as s:
        rec = s.scalar(select(AuditRecord).where(AuditRecord.action == "user.create"))
    assert rec is not None
    assert rec.actor_id == _user_id(clean, "admin") and rec.actor_name == "admin"
    assert "password" not in str(rec.detail)


def test_station_is_ignored_for_roles_without_one(admin: Browser, clean: Node) -> None:
    r = admin.post(
        "/admin/users",
        {
            "username": "sup_two",
            "role": "supervisor",
            "station": "F01",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    user = _user(clean, "sup_two")
    assert user is not None and user.station_code is None


def test_bad_form_shows_every_field_error_and_creates_nothing(admin: Browser, clean: Node) -> None:
    r = admin.post(
        "/admin/users",
        {
            "username": "li_bad",
            "display_name": "李",
            "role": "clerk",
            "station": "X9",
            "password": "short",
            "password_confirm": "shorter",
        },
    )
    assert r.status_code == 422
    assert "请更正标出的项目" in r.text
    assert "未知的服务站“X9”" in r.text  # station
    assert "密码至少需要 10 个字符" in r.text  # password
    assert "两次输入的密码不一致" in r.text  # confirmation
    assert r.text.count('aria-invalid="true"') == 2 + 1  # station, password, confirmation
    assert 'value="li_bad"' in r.text  # what was typed stays
    assert "short" not in re.findall(r'type="password"[^>]*', r.text).__str__()
    assert _user(clean, "li_bad") is None

    # A taken username, and a mismatch alone (create_user would accept the rest).
    taken = admin.post(
        "/admin/users",
        {
            "username": "clerk_f01",
            "role": "clerk",
            "station": "F01",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert taken.status_code == 422 and "用户名已被占用" in taken.text
    mismatch = admin.post(
        "/admin/users",
        {
            "username": "li_ok",
            "role": "clerk",
            "station": "F01",
            "password": PASSWORD,
            "password_confirm": PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 422 and "两次输入的密码不一致" in mismatch.text
    assert _user(clean, "li_ok") is None
    missing = admin.post(
        "/admin/users",
        {
            "username": "li_nostation",
            "role": "station_master",
            "station": "",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert missing.status_code == 422 and "须选择服务站" in missing.text
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count()).where(AuditRecord.action == "user.create")) == 0


def test_english_errors_in_english(admin: Browser) -> None:
    admin.get("/lang/en?next=/admin/users")
    r = admin.post(
        "/admin/users",
        {
            "username": "x",
            "role": "clerk",
            "station": "F01",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert r.status_code == 422
    assert "2–64 letters, digits" in r.text and "New user" in r.text


def test_deactivating_ends_the_session_and_the_token(
    admin: Browser, client: TestClient, clean: Node
) -> None:
    _new_clerk(admin, "zhao_leaving")
    uid = _user_id(clean, "zhao_leaving")
    clerk = sign_in(TestClient(client.app), "zhao_leaving")
    token = _token(client, "zhao_leaving")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/stations", headers=bearer).status_code == 200

    r = admin.post(f"/admin/users/{uid}/deactivate", follow_redirects=False)
    assert r.status_code == 303 and "done=deactivated" in r.headers["location"]
    assert "已停用用户 zhao_leaving" in admin.get(r.headers["location"]).text

    page = clerk.get("/account", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/v1/stations", headers=bearer).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "zhao_leaving", "password": PASSWORD}
        ).status_code
        == 401
    )
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count()).where(WebSession.user_id == uid)) == 0
        assert s.scalar(select(AuditRecord).where(AuditRecord.action == "user.deactivate"))

    assert admin.post(f"/admin/users/{uid}/reactivate", follow_redirects=False).status_code == 303
    sign_in(TestClient(client.app), "zhao_leaving")


def test_admin_cannot_deactivate_themselves(admin: Browser, clean: Node) -> None:
    uid = _user_id(clean, "admin")
    assert "/deactivate" not in admin.get(f"/admin/users/{uid}").text.split("<h1")[1]
    r = admin.post(f"/admin/users/{uid}/deactivate")
    assert r.status_code == 403 and "不能停用自己的账户" in r.text
    user = _user(clean, "admin")
    assert user is not None and user.active
    assert admin.get("/admin/users").status_code == 200


def test_unlock_a_locked_account(admin: Browser, client: TestClient, clean: Node) -> None:
    _new_clerk(admin, "qian_locked")
    uid = _user_id(clean, "qian_locked")
    for _ in range(6):  # five free tries, then the account name waits
        r = client.post("/api/v1/auth/token", json={"username": "qian_locked", "password": "no"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "qian_locked", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    page = admin.get("/admin/users")
    row = page.text.split("qian_locked</a>", 1)[1].split("</tr>", 1)[0]
    assert f"/admin/users/{uid}/unlock" in row

    r = admin.post(f"/admin/users/{uid}/unlock", follow_redirects=False)
    assert r.status_code == 303 and "done=unlocked" in r.headers["location"]
    with clean.runtime.db.session() as s:
        assert s.scalar(
            select(AuditRecord).where(
                AuditRecord.action == "auth.unlock", AuditRecord.object_id == str(uid)
            )
        )
    sign_in(TestClient(client.app), "qian_locked")


def test_reset_password(admin: Browser, client: TestClient, clean: Node) -> None:
    _new_clerk(admin, "sun_forgot")
    uid = _user_id(clean, "sun_forgot")
    before = sign_in(TestClient(client.app), "sun_forgot")
    bad = admin.post(
        f"/admin/users/{uid}/password",
        {"password": NEW_PASSWORD, "password_confirm": "different-pw"},
    )
    assert bad.status_code == 422 and "两次输入的密码不一致" in bad.text
    r = admin.post(
        f"/admin/users/{uid}/password",
        {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=password" in r.headers["location"]
    assert before.get("/account", follow_redirects=False).status_code == 303
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "sun_forgot", "password": PASSWORD}
        ).status_code
        == 401
    )
    sign_in(TestClient(client.app), "sun_forgot", NEW_PASSWORD)
    with clean.runtime.db.session() as s:
        rec = s.scalar(select(AuditRecord).where(AuditRecord.action == "user.password_reset"))
    assert rec is not None and NEW_PASSWORD not in str(rec.detail)


def test_unknown_user_is_404(admin: Browser) -> None:
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999/unlock").status_code == 404


# ---------------------------------------------------------------- who may open the pages

ADMIN_GETS = [
    "/admin/users",
    "/admin/users/1",
    "/admin/stations",
    "/admin/stations/F01",
    "/admin/calendar",
    "/admin/calendar/example.yaml",
]
ADMIN_POSTS = [
    "/admin/users",
    "/admin/users/1/deactivate",
    "/admin/users/1/reactivate",
    "/admin/users/1/unlock",
    "/admin/users/1/password",
    "/admin/stations/F01",
    "/admin/calendar",
]


@pytest.mark.parametrize("username", ["clerk_f01", "supervisor", "master_f01", "auditor"])
def test_other_roles_get_403_everywhere(
    browser: Callable[[str], Browser], clean: Node, username: str
) -> None:
    b = browser(username)
    for url in ADMIN_GETS:
        r = b.get(url)
        assert r.status_code == 403, url
        assert "您的角色无权打开此页面" in r.text
    for url in ADMIN_POSTS:
        r = b.post(
            url,
            {
                "username": "intruder",
                "role": "admin",
                "name": "x",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
        assert r.status_code == 403, url
    assert _user(clean, "intruder") is None
    with clean.runtime.db.session() as s:
        f01 = s.scalar(select(Station).where(Station.code == "F01"))
    assert f01 is not None and f01.name != "x" and f01.active


def test_signed_out_goes_to_login(client: TestClient) -> None:
    r = client.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin/users"


def test_every_post_without_csrf_is_403(admin: Browser, clean: Node) -> None:
    uid = _user_id(clean, "clerk_m01")
    for url in ADMIN_POSTS:
        url = url.replace("/users/1/", f"/users/{uid}/")
        r = admin.client.post(
            url,
            data={
                "username": "nocsrf",
                "role": "clerk",
                "station": "F01",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
                "name": "x",
            },
        )
        assert r.status_code == 403, url
        assert "表单已过期" in r.text
    assert _user(clean, "nocsrf") is None
    user = _user(clean, "clerk_m01")
    assert user is not None and user.active
    r = admin.client.post(
        "/admin/calendar",
        data={"csrf_token": "forged"},
        files={"file": ("cn-2027.yaml", VALID_2027.encode(), "text/yaml")},
    )
    assert r.status_code == 403
    with clean.runtime.db.session() as s:
        assert s.get(CalendarYear, 2027) is None


def test_admin_sees_no_case_data(
    admin: Browser, client: TestClient, login: Login, clean: Node
) -> None:
    body = intake_body()
    body["applicant"]["name"] = "欧阳秀英"
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    case = r.json()
    uid = _user_id(clean, "clerk_f01")
    for url in [
        "/admin/users",
        f"/admin/users/{uid}",
        "/admin/stations",
        "/admin/stations/F01",
        "/admin/calendar",
        "/",
    ]:
        page = admin.get(url)
        assert page.status_code == 200, url
        for secret in (case["case_no"], "欧阳秀英", body["applicant"]["id_number"]):
            assert secret not in page.text, (url, secret)
        assert "/queue" not in page.text and "/cases" not in page.text
    assert client.get("/api/v1/cases", headers=login("admin")).status_code == 403
    assert client.get(f"/api/v1/cases/{case['case_no']}", headers=login("admin")).status_code == 403


# ---------------------------------------------------------------- stations


def test_editing_a_station_master_shows_in_the_api(
    admin: Browser, client: TestClient, login: Login, clean: Node
) -> None:
    with clean.runtime.db.session() as s:
        t01 = s.scalar(select(Station).where(Station.code == "T01"))
    assert t01 is not None
    original = {
        "name": t01.name,
        "master": t01.master or "",
        "address": t01.address or "",
        "active": "1",
    }
    page = admin.get("/admin/stations")
    assert "T01" in page.text and t01.name in page.text and (t01.master or "") in page.text
    try:
        r = admin.post(
            "/admin/stations/t01", {**original, "master": "  何新站长  "}, follow_redirects=False
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/admin/stations?done=saved&who=T01"
        assert "已保存服务站 T01" in admin.get(r.headers["location"]).text
        stations = client.get("/api/v1/stations", headers=login("clerk_f01")).json()
        assert next(s for s in stations if s["code"] == "T01")["master"] == "何新站长"
        with clean.runtime.db.session() as s:
            rec = s.scalar(select(AuditRecord).where(AuditRecord.action == "station.update"))
        assert rec is not None and rec.detail == {"master": [t01.master, "何新站长"]}

        bad = admin.post("/admin/stations/T01", {**original, "name": " ", "master": "x" * 51})
        assert bad.status_code == 422
        assert "必填" in bad.text and "不能超过 50 个字符" in bad.text
    finally:
        admin.post("/admin/stations/T01", original)
    clean.runtime.invalidate()


def test_a_station_with_open_cases_cannot_be_deactivated(
    admin: Browser, client: TestClient, login: Login, clean: Node
) -> None:
    r = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01"))
    assert r.status_code == 201
    with clean.runtime.db.session() as s:
        f01 = s.scalar(select(Station).where(Station.code == "F01"))
    assert f01 is not None
    form = {"name": f01.name, "master": f01.master or "", "address": f01.address or ""}
    refused = admin.post("/admin/stations/F01", form)  # no "active": the box is unticked
    assert refused.status_code == 422
    assert "本站还有 1 件未办结的办件" in refused.text
    assert r.json()["case_no"] not in refused.text
    with clean.runtime.db.session() as s:
        assert s.scalar(select(Station.active).where(Station.code == "F01")) is True

    # The bureau hall is never deactivated: forwarded cases need it.
    with clean.runtime.db.session() as s:
        hall = s.scalar(select(Station).where(Station.kind == "bureau"))
    assert hall is not None
    r2 = admin.post(f"/admin/stations/{hall.code}", {"name": hall.name})
    assert r2.status_code == 422 and "不能停用" in r2.text


def test_a_station_without_open_cases_can_be_deactivated_and_back(
    admin: Browser, client: TestClient, login: Login, clean: Node
) -> None:
    with clean.runtime.db.session() as s:
        m18 = s.scalar(select(Station).where(Station.code == "M18"))
    assert m18 is not None
    form = {"name": m18.name, "master": m18.master or "", "address": m18.address or ""}
    try:
        assert admin.post("/admin/stations/M18", form, follow_redirects=False).status_code == 303
        codes = [
            s["code"] for s in client.get("/api/v1/stations", headers=login("clerk_f01")).json()
        ]
        assert "M18" not in codes
        row = admin.get("/admin/stations").text.split(">M18</a>", 1)[1].split("</tr>", 1)[0]
        assert "已停用" in row
    finally:
        admin.post("/admin/stations/M18", {**form, "active": "1"})
    clean.runtime.invalidate()
    codes = [s["code"] for s in client.get("/api/v1/stations", headers=login("clerk_f01")).json()]
    assert "M18" in codes


def test_unknown_station_is_404(admin: Browser) -> None:
    assert admin.get("/admin/stations/NOPE").status_code == 404
    assert admin.post("/admin/stations/NOPE", {"name": "x"}).status_code == 404


# ---------------------------------------------------------------- calendar


def test_calendar_lists_the_packaged_years(admin: Browser) -> None:
    page = admin.get("/admin/calendar")
    assert page.status_code == 200
    row = page.text.split(">2026</a>", 1)[1].split("</tr>", 1)[0]
    # 2026: 19 weekdays off (the weekend days of the holidays are not exceptions), 6 make-up days.
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["19", "6"]
    assert 'enctype="multipart/form-data"' in page.text
    example = admin.get("/admin/calendar/example.yaml")
    assert example.status_code == 200 and "year: 2026" in example.text
    assert "attachment" in example.headers["content-disposition"]


def test_importing_a_valid_2027_file_adds_the_year(
    admin: Browser, clean: Node, forget_2027: None
) -> None:
    r = admin.post(
        "/admin/calendar",
        files={"file": ("cn-2027.yaml", VALID_2027.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = admin.get(r.headers["location"])
    assert "已导入 2027 年的节假日安排" in page.text and 'class="notice ok"' in page.text
    assert "已导入：2027 年" in page.text and "2027-02-08 – 2027-02-12" in page.text
    assert "2027-02-20" in page.text
    with clean.runtime.db.session() as s:
        year = s.get(CalendarYear, 2027)
        assert year is not None and "测试" in year.source
        assert s.scalar(select(AuditRecord).where(AuditRecord.action == "calendar.import"))
    assert clean.runtime.reference().calendar.is_official(2027)


def test_a_broken_file_lists_its_errors_and_changes_nothing(
    admin: Browser, clean: Node, forget_2027: None
) -> None:
    broken = "year: 2027\nholiday:\n  - 2027-01-01\nworkdays:\n  - 2027-02-30\n  - 2027-02-16\n"
    r = admin.post("/admin/calendar", files={"file": ("bad.yaml", broken.encode(), "text/yaml")})
    assert r.status_code == 422
    assert "文件未导入" in r.text
    for field in ("holiday", "holidays", "workdays[0]", "workdays[1]"):
        assert f"<code>{field}</code>" in r.text, field
    assert "not a valid date" in r.text
    with clean.runtime.db.session() as s:
        assert s.get(CalendarYear, 2027) is None
        assert s.scalar(select(func.count()).where(CalendarDay.year == 2027)) == 0
        assert s.scalar(select(func.count()).where(AuditRecord.action == "calendar.import")) == 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"# padding\n" * 7000, "超过 64 KiB"),
        ("year: 2027\nsource: 国务院\n".encode("gb18030"), "不是 UTF-8"),
        (b"", "文件是空的"),
        (b"- just\n- a list\n", "<code>file</code>"),
    ],
)
def test_unusable_files_are_refused_clearly(
    admin: Browser, clean: Node, content: bytes, needle: str
) -> None:
    r = admin.post("/admin/calendar", files={"file": ("x.yaml", content, "text/yaml")})
    assert r.status_code == 422 and needle in r.text
    with clean.runtime.db.session() as s:
        assert (s.scalar(select(func.count()).select_from(CalendarYear)) or 0) > 0
        assert s.get(CalendarYear, 2027) is None


def test_no_file_chosen(admin: Browser) -> None:
    r = admin.post("/admin/calendar")
    assert r.status_code == 422 and "请选择要导入的安排文件" in r.text
