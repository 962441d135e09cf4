"""Schemathesis over the whole OpenAPI: every operation, every check, as a bureau officer and as
a clerk, on SQLite (docs/reliability.md has the figures).

The coverage phase (each parameter missing, mistyped, out of range, ... one at a time, and
undeclared methods) is the costly part: it runs once, as the officer. The fuzzing phase
(positive and negative examples) runs for both roles. PostgreSQL is left out of `make test`:
one role's fuzzing took 7 minutes there on the shared machine (see docs/reliability.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.conftest import PASSWORD, Node
from yibao.config import Settings
from yibao.web.app import create_app

ROLES = {"bureau_officer": "officer", "clerk": "clerk_f01"}
MAX_EXAMPLES = 5  # per operation in the fuzzing phase

CHECKS: dict[str, Any] = {
    # A schema-valid body can still name a service, station or case that is not there, or ask
    # for a step the lifecycle refuses: the interface contract answers those with 422 naming
    # the field (DESIGN.md §7), not with 2xx. And a body the schema allows can be longer than
    # the size limit (YIBAO_MAX_BODY_BYTES): 413.
    "positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 413, 422, 429]
    },
    # An invalid body past the size limit is refused before it is read: 413.
    "negative_data_rejection": {
        "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422, 429]
    },
}

OPERATIONS: list[dict[str, Any]] = [
    {
        # On a node outside any federation (this one) the receiving endpoint does not exist:
        # every method gets 404, so "405 for an undeclared method" and the Allow of a 405 do
        # not apply (a federated node checks the signature of a PUT too, then answers 405:
        # tests/federation).
        "include-path": "/federation/v1/messages",
        "checks": {
            "unsupported_method": {"enabled": False},
            "allow_header_conformance": {"enabled": False},
        },
    },
]


def _config(*, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 13,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # Unknown query parameters are ignored, as HTTP APIs (and FastAPI) do; a
                # request that only adds one is not invalid.
                "allow-extra-parameters": False,
            },
            # The shared 2-core machine can take seconds per request under load.
            "request-timeout": 60,
            # Two undeclared methods per path are enough to see the 405 and its Allow.
            "phases": {
                "coverage": {"enabled": coverage, "unexpected-methods": ["delete", "options"]}
            },
            "checks": CHECKS,
            "operations": OPERATIONS,
        }
    )


def _spec() -> dict[str, Any]:
    """The OpenAPI document of the real app (routes do not depend on the database's content)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            settings=Settings(
                data_dir=Path(tmp), database_url="sqlite://", secret_key="spec-only-" + "x" * 22
            )
        )
        return app.openapi()


SPEC = _spec()
full = schemathesis.openapi.from_dict(SPEC, config=_config(coverage=True))
fuzz = schemathesis.openapi.from_dict(SPEC, config=_config(coverage=False))


@dataclass
class Api:
    app: FastAPI
    headers: dict[str, str]


_apps: dict[str, FastAPI] = {}
_tokens: dict[tuple[str, str], str] = {}


@pytest.fixture
def api(role: str, clean: Node) -> Api:
    """The node's app (one per backend: its lifespan keeps running) and a role's bearer token."""
    app = _apps.get(clean.url)
    if app is None:
        app = _apps[clean.url] = create_app(runtime=clean.runtime)
    key = (clean.url, role)
    if key not in _tokens:
        with TestClient(app) as client:
            r = client.post(
                "/api/v1/auth/token", json={"username": ROLES[role], "password": PASSWORD}
            )
        assert r.status_code == 200, r.text
        _tokens[key] = r.json()["access_token"]
    return Api(app, {"Authorization": f"Bearer {_tokens[key]}"})


def _call(case: schemathesis.Case, api: Api) -> None:
    case.operation.schema.app = api.app  # the checks' own probes go to the same app
    case.call_and_validate(app=api.app, headers=dict(api.headers))


@full.parametrize()
@pytest.mark.parametrize(("node", "role"), [("sqlite", "bureau_officer")], indirect=["node"])
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case, api: Api) -> None:
    _call(case, api)


@fuzz.parametrize()
@pytest.mark.parametrize(("node", "role"), [("sqlite", "clerk")], indirect=["node"])
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_fuzzed(case: schemathesis.Case, api: Api) -> None:
    _call(case, api)
