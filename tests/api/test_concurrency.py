"""Two people acting at once: one wins, the others get 409; one key, one case."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.cases.models import Case, CaseEvent
from yibao.web.app import create_app


def test_same_version_from_many_threads_one_wins(client: TestClient, login, clean: Node) -> None:
    h = login("clerk_f01")
    case = client.post("/api/v1/cases", json=intake_body(), headers=h).json()
    app = create_app(runtime=clean.runtime)
    barrier = threading.Barrier(6)

    def attempt(i: int) -> int:
        with TestClient(app) as c:
            barrier.wait()
            body = (
                {"action": "reject", "version": 1, "reason": f"第{i}次"}
                if i % 2
                else {"action": "start", "version": 1}
            )
            return c.post(
                f"/api/v1/cases/{case['case_no']}/actions", json=body, headers=h
            ).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(attempt, range(6)))
    assert codes == [200, 409, 409, 409, 409, 409]
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(CaseEvent.id))) == 2
        assert s.scalar(select(Case.version)) == 2


def test_same_idempotency_key_at_once_makes_one_case(
    client: TestClient, login, clean: Node
) -> None:
    h = {**login("clerk_f01"), "Idempotency-Key": "double-click"}
    body = intake_body()
    app = create_app(runtime=clean.runtime)
    barrier = threading.Barrier(4)

    def attempt(_i: int) -> tuple[int, str]:
        with TestClient(app) as c:
            barrier.wait()
            r = c.post("/api/v1/cases", json=body, headers=h)
            return r.status_code, r.json().get("case_no", "")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert {code for code, _ in results} == {201}
    assert len({no for _, no in results}) == 1
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count(Case.id))) == 1
        assert s.scalar(select(func.count(CaseEvent.id))) == 1
