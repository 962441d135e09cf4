"""A questionnaire answered on a field laptop reaches the central node once, however often the
sync runs (in-process: the laptop's own SQLite file, the central app over its test transport)."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.conftest import Clock, Node
from yibao.accounts.rules import Actor, Role
from yibao.audit import guard
from yibao.config import Settings
from yibao.db import Database, utcnow
from yibao.field import crypto, laptop
from yibao.field.models import FieldQueue, FieldState
from yibao.migrate import upgrade
from yibao.questionnaires import responses
from yibao.questionnaires.models import QuestionnaireResponse, QuestionnaireTemplate
from yibao.questionnaires.responses import ResponseIn
from yibao.runtime import Runtime

PASSWORD = "laptop-password"
ANSWERS: dict[str, Any] = {
    "item": "elsewhere",
    "duration": "lt10",
    "one_trip": "yes",
    "told_once": "na",
    "attitude": 5,
    "convenience": 4,
    "suggestion": "流动服务站来村里办很方便",
}


def _central_count(node: Node) -> int:
    with node.runtime.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(QuestionnaireResponse)) or 0)


def test_a_laptop_response_reaches_central_exactly_once(
    client: TestClient,
    login,
    clean: Node,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    assert (
        client.post("/api/v1/questionnaires/load-standard", headers=login("supervisor")).status_code
        == 201
    )
    r = client.post("/api/v1/field/devices", json={"label": "M01"}, headers=login("clerk_m01"))
    assert r.status_code == 201
    device = r.json()
    bundle = client.get(
        "/api/v1/field/bundle", headers={"Authorization": f"Bearer {device['device_token']}"}
    )
    assert bundle.status_code == 200
    data = bundle.json()
    assert {q["code"] for q in data["questionnaires"]} == {
        "policy-awareness",
        "business-procedure",
        "policy-evaluation",
    }

    url = f"sqlite:///{tmp_path / 'laptop.sqlite3'}"
    upgrade(url)
    db = Database(url)
    salt = os.urandom(16)
    key = crypto.derive_key(PASSWORD, salt)
    crypto.activate(key)
    try:
        agency = clean.settings.agency
        with db.uow() as uow:
            laptop._load_bundle(uow.session, agency, data)
            uow.session.add(
                FieldState(
                    id=1,
                    central_url="http://testserver",
                    device_id=uuid.UUID(device["id"]),
                    username="clerk_m01",
                    station_code="M01",
                    salt=base64.b64encode(salt).decode(),
                    key_check=crypto.key_check(key),
                    device_token=crypto.encrypt(device["device_token"]),
                    initialised_at=utcnow(),
                )
            )
            guard.bulk(uow.session, "test set-up: a laptop's copy of central")
            uow.commit()
        with db.session() as s:
            local = s.scalar(
                select(QuestionnaireTemplate).where(
                    QuestionnaireTemplate.code == "business-procedure"
                )
            )
            assert local is not None and local.current_version == 1
        offline = Runtime(
            Settings(data_dir=tmp_path, database_url=url, secret_key="laptop-" + "k" * 24),
            db,
            clock=Clock(clean.clock.now),
        )
        offline.field_hook = laptop.enqueue
        member = Actor(1, "clerk_m01", "吴磊", Role.CLERK, "M01", agency)
        with db.uow() as uow:
            taken = responses.submit(
                uow,
                runtime=offline,
                actor=member,
                code="business-procedure",
                request=ResponseIn(version=1, answers=ANSWERS),
            )
        with db.session() as s:
            queued = s.scalars(select(FieldQueue)).all()
            assert [(q.kind, q.status, q.client_id) for q in queued] == [
                ("response", "pending", taken.response.id)
            ]
        assert _central_count(clean) == 0  # nothing leaves the laptop before a sync

        transport = client._transport  # the central app, in-process
        first = laptop.sync_once(offline, transport=transport)
        assert (first.acked, first.quarantined, first.conflicts) == (1, 0, 0)
        assert _central_count(clean) == 1
        # The answer was lost on the way back: the record is sent again, and stored once.
        with db.uow() as uow:
            uow.session.execute(update(FieldQueue).values(status="pending"))
            uow.commit()
        again = laptop.sync_once(offline, transport=transport)
        assert again.acked == 1
        assert laptop.sync_once(offline, transport=transport).sent == 0
        assert _central_count(clean) == 1
        with clean.runtime.db.session() as s:
            row = s.scalar(select(QuestionnaireResponse))
            assert row is not None
            assert (row.id, row.channel, row.station_code, row.town_code) == (
                taken.response.id,
                "mobile",
                "M01",
                "500118100",
            )
            assert row.answers == ANSWERS and row.answered_at == taken.response.answered_at
        results = client.get(
            "/api/v1/questionnaires/business-procedure/results?station=M01",
            headers=login("officer"),
        ).json()
        assert results["responses"] == 1 and results["by_channel"] == {"mobile": 1}
    finally:
        crypto.deactivate()
        db.dispose()


def test_central_refuses_a_bad_laptop_response_naming_the_question(
    client: TestClient,
    login,
    clean: Node,  # type: ignore[no-untyped-def]
) -> None:
    client.post("/api/v1/questionnaires/load-standard", headers=login("supervisor"))
    device = client.post("/api/v1/field/devices", json={}, headers=login("clerk_m01")).json()
    auth = {"Authorization": f"Bearer {device['device_token']}"}
    bad = {
        "client_id": str(uuid.uuid4()),
        "kind": "response",
        "payload": {
            "template": "business-procedure",
            "version": 1,
            "answers": {**ANSWERS, "attitude": 9},
            "answered_at": clean.clock.now.isoformat(),
        },
    }
    odd = [
        {"client_id": str(uuid.uuid4()), "kind": "response", "payload": "x"},
        {
            "client_id": str(uuid.uuid4()),
            "kind": "response",
            "payload": {
                "template": "nope",
                "version": 1,
                "answers": {},
                "answered_at": clean.clock.now.isoformat(),
            },
        },
        {
            "client_id": str(uuid.uuid4()),
            "kind": "response",
            "payload": {"template": "business-procedure", "answers": ANSWERS},
        },
        {
            "client_id": str(uuid.uuid4()),
            "kind": "response",
            "payload": {
                "template": "business-procedure",
                "version": 1,
                "answers": ANSWERS,
                "answered_at": "2099-01-01T00:00:00+08:00",
            },
        },
    ]
    r = client.post("/api/v1/field/sync", json={"records": [bad, *odd]}, headers=auth)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["refused"] * 5
    assert results[0]["errors"][0]["field"] == "answers.attitude"
    assert _central_count(clean) == 0
