"""Every writing route, walked as each kind of user with empty and with junk input (issue 13).

The audit guard refuses any commit that changes data without an audit record in the same
transaction; a route that did so would answer 500 here. The suite's other tests drive each
route with valid input under the same guard. This walk also makes sure no writing route is
left out: the list of routes comes from the application itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import PASSWORD, Node
from tests.web.conftest import sign_in

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
ROLES = ("clerk_f01", "master_f01", "officer", "auditor", "admin")


def writing_routes(app: Any) -> Iterator[tuple[str, str, bool]]:
    """(method, path, is an API route) of every writing route the application serves."""

    def walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, str, bool]]:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:  # FastAPI's included router
                ctx = getattr(r, "include_context", None)
                yield from walk(inner.routes, prefix + (getattr(ctx, "prefix", "") or ""))
                continue
            methods = getattr(r, "methods", None) or set()
            for m in sorted(set(methods) & WRITES):
                yield m, prefix + r.path, bool(getattr(r, "include_in_schema", True))

    yield from walk(app.routes)


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values.get(m.group(1), "1"), path)


@pytest.fixture
def client(own_node: Node) -> Iterator[TestClient]:
    """The app of a node of this module's own: the walk changes what it may (an admin's empty
    station form, a standard questionnaire loaded), which other tests must not see."""
    from yibao.web.app import create_app

    with TestClient(create_app(runtime=own_node.runtime)) as c:
        yield c


@pytest.fixture
def walked(client: TestClient) -> dict[str, Any]:
    token = client.post(
        "/api/v1/auth/token", json={"username": "clerk_f01", "password": PASSWORD}
    ).json()["access_token"]
    r = client.post(
        "/api/v1/cases", json=intake_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    return {"case_no": r.json()["case_no"], "code": "F01", "user_id": "1", "item": "1"}


def test_every_writing_route_answers_without_a_server_error(
    client: TestClient, walked: dict[str, str]
) -> None:
    routes = list(writing_routes(client.app))
    assert len(routes) > 100  # the walk sees the whole application, not a few routers
    failures: list[str] = []
    users = {u: sign_in(TestClient(client.app), u) for u in ROLES}
    tokens = {
        u: client.post("/api/v1/auth/token", json={"username": u, "password": PASSWORD}).json()[
            "access_token"
        ]
        for u in ROLES
    }
    skip = {"/logout"}  # it would end the walk's own session
    for method, path, is_api in routes:
        if path in skip:
            continue
        url = _fill(path, walked)
        for user in ROLES:
            if is_api:
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                answers = [
                    client.request(method, url, headers=headers, json={}),
                    client.request(method, url, headers=headers, json={"x": [1, None, "é" * 3]}),
                ]
            else:
                b = users[user]
                answers = [
                    b.client.request(method, url, data={"csrf_token": b.csrf}),
                    b.client.request(
                        method, url, data={"csrf_token": b.csrf, "note": "x" * 300, "code": "?"}
                    ),
                ]
            for r in answers:
                if r.status_code >= 500:
                    failures.append(f"{method} {url} as {user}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
