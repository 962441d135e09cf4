"""The citizen's lookup (no login) and sign-in with lockout."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import PASSWORD, Node

JSON = {"Accept": "application/json"}


def test_public_lookup_by_number_and_tail(client: TestClient, login) -> None:
    h = login("clerk_f01")
    case = client.post(
        "/api/v1/cases",
        json=intake_body(service_code="outpatient_reimbursement", materials=["id_card"]),
        headers=h,
    ).json()
    client.post(
        f"/api/v1/cases/{case['case_no']}/actions",
        json={
            "action": "request_materials",
            "version": 1,
            "missing_materials": ["invoices", "cost_list", "medical_records"],
        },
        headers=h,
    )
    tail = case["applicant"]["id_number"][-4:]
    r = client.get(f"/public/cases/{case['case_no']}?id_tail={tail}", headers=JSON)
    assert r.status_code == 200
    view = r.json()
    assert view["state"] == "materials_pending" and view["state_label"] == "待补正"
    assert view["applicant_name"] == "张*"
    assert [m["code"] for m in view["missing_materials"]] == [
        "invoices",
        "cost_list",
        "medical_records",
    ]
    assert "id_number" not in str(view) and "138" not in str(view)
    page = client.get(f"/public/cases/{case['case_no']}?id_tail={tail}")
    assert page.status_code == 200 and "待补正" in page.text and "费用明细" in page.text


def test_public_lookup_same_404_for_wrong_tail_and_unknown_case(client: TestClient, login) -> None:
    case = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01")).json()
    tail = case["applicant"]["id_number"][-4:]
    wrong = "0000" if tail != "0000" else "1111"
    a = client.get(f"/public/cases/{case['case_no']}?id_tail={wrong}", headers=JSON)
    b = client.get(f"/public/cases/999999999999999?id_tail={tail}", headers=JSON)
    assert a.status_code == b.status_code == 404
    assert a.json() == b.json()


def test_public_page_asks_for_tail(client: TestClient) -> None:
    r = client.get("/public/cases/202609290000001")
    assert r.status_code == 200
    assert "身份证号后四位" in r.text


def test_public_lookup_is_rate_limited(client: TestClient, clean: Node) -> None:
    limit = clean.settings.public_rate_per_minute
    codes = [
        # A different number each time: one number takes only 10 wrong tails a day.
        client.get(f"/public/cases/{i + 1}?id_tail=1234", headers=JSON).status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [404] * limit
    assert codes[-1] == 429


def test_token_form_encoded_and_json(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "clerk_f01", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    r = client.post("/api/v1/auth/token", json={"username": "clerk_f01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = client.post(
        "/api/v1/auth/token", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"


def test_wrong_passwords_slow_an_account_down_and_never_lock_it(
    client: TestClient, clean: Node
) -> None:
    bad = {"username": "clerk_f02", "password": "wrong-password"}
    good = {"username": "clerk_f02", "password": PASSWORD}
    for _ in range(6):  # five free tries, then a wait that doubles with each wrong one
        assert client.post("/api/v1/auth/token", json=bad).status_code == 401
    r = client.post("/api/v1/auth/token", json=good)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"  # even the right password
    clean.clock.now += timedelta(seconds=3)
    assert client.post("/api/v1/auth/token", json=good).status_code == 200


def test_expired_token_is_refused(client: TestClient, clean: Node) -> None:
    token = client.post(
        "/api/v1/auth/token", json={"username": "clerk_f01", "password": PASSWORD}
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=h).status_code == 200
    clean.clock.now += timedelta(seconds=clean.settings.token_ttl_seconds + 1)
    assert client.get("/api/v1/cases", headers=h).status_code == 401


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_no}/actions",
        "/api/v1/auth/token",
        "/public/cases/{case_no}",
        "/api/v1/stations",
        "/api/v1/services",
    ):
        assert path in spec["paths"]


def test_password_reset_revokes_earlier_tokens(client: TestClient, clean: Node) -> None:
    from sqlalchemy import select

    from yibao.accounts import admin
    from yibao.accounts.models import User
    from yibao.accounts.service import actor_of

    token = client.post(
        "/api/v1/auth/token", json={"username": "clerk_m01", "password": PASSWORD}
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=h).status_code == 200
    with clean.runtime.db.uow() as uow:
        admin_user = uow.session.scalar(select(User).where(User.username == "admin"))
        target = uow.session.scalar(select(User).where(User.username == "clerk_m01"))
        assert admin_user and target
        admin.reset_password(
            uow,
            actor=actor_of(admin_user),
            user_id=target.id,
            password=PASSWORD,
            password_confirm=PASSWORD,
            now=clean.runtime.now(),
        )
    assert client.get("/api/v1/cases", headers=h).status_code == 401
    clean.clock.now += timedelta(seconds=2)
    fresh = client.post("/api/v1/auth/token", json={"username": "clerk_m01", "password": PASSWORD})
    assert fresh.status_code == 200
    h2 = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.get("/api/v1/cases", headers=h2).status_code == 200
