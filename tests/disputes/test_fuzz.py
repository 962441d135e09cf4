"""Odd input to every lead and dispute endpoint: never a 500."""

from __future__ import annotations

import uuid

import pytest

ODD = [
    "",
    " ",
    "x" * 5000,
    "%00",
    "../../etc",
    "%",
    "💥",
    "-1",
    "1e309",
    str(uuid.uuid4()),
    "null",
]
BODIES = [
    None,
    {},
    [],
    {"action": None, "version": "x"},
    {"action": "verify", "version": 10**20},
    {"kind": {"a": 1}},
    {"statements": {"hospital": 3}, "session_date": "2026-13-45"},
    {"representatives": [{}] * 20},
    {"limit_days": -3, "subject": None},
]


@pytest.mark.parametrize("user", ["clerk_f01", "officer"])
def test_no_input_gives_a_500(client, login, user: str) -> None:  # type: ignore[no-untyped-def]
    h = login(user)
    for odd in ODD:
        for url in (
            f"/api/v1/leads/{odd}",
            f"/api/v1/leads?state={odd}&kind={odd}&cursor={odd}",
            f"/api/v1/disputes/{odd}",
            f"/api/v1/disputes?state={odd}&station={odd}&q={odd[:40]}&cursor={odd}",
            f"/api/v1/leads/{odd}/attachments/{odd}",
        ):
            assert client.get(url, headers=h).status_code < 500, url
    for body in BODIES:
        for url in (
            "/api/v1/leads",
            f"/api/v1/leads/{uuid.uuid4()}/actions",
            "/api/v1/disputes",
            f"/api/v1/disputes/{uuid.uuid4()}/sessions",
            f"/api/v1/disputes/{uuid.uuid4()}/actions",
        ):
            assert client.post(url, json=body, headers=h).status_code < 500, (url, body)


def test_control_characters_are_refused_by_field(client, login) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/leads", json={"kind": "other", "description": "a\x00b"}, headers=login("clerk_f01")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "description"
    rep = [{"party": p, "name": "张三"} for p in ("hospital", "insurer", "patient")]
    body = {
        "subject": "a\x00",
        "hospital_name": "h",
        "patient_name": "李四",
        "representatives": rep,
    }
    r = client.post("/api/v1/disputes", json=body, headers=login("officer"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "subject"
    r = client.get("/api/v1/disputes?q=a%00b", headers=login("officer"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q"
    body = {
        "session_date": "2026-09-29",
        "mediator": "x",
        "parties_present": ["hospital"],
        "statements": {"hospital": "\x00"},
    }
    r = client.post(
        f"/api/v1/disputes/{uuid.uuid4()}/sessions", json=body, headers=login("officer")
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("statements")
