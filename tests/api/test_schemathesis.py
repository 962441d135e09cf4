"""Schemathesis over the whole OpenAPI: every operation, every check, as a bureau officer and as
a clerk, on a SQLite node of the module's own (docs/reliability.md has the figures).

The officer's run is the coverage phase (each parameter missing, mistyped, out of range, ...
one at a time, and undeclared methods); the clerk's is the fuzzing phase (positive and
negative examples). PostgreSQL is left out of `make test` (docs/reliability.md).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from tests.conftest import PASSWORD, Node, make_node
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
            # The officer's run is the coverage phase alone, the clerk's the fuzzing phase
            # alone: together well under a minute on 2 cores.
            "phases": {
                "coverage": {"enabled": coverage, "unexpected-methods": ["delete", "options"]},
                "fuzzing": {"enabled": not coverage},
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


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A SQLite node of this module's own (made once: no parameters, so never rebuilt)."""
    with make_node("sqlite", tmp_path_factory) as made:
        yield made


@pytest.fixture
def api(role: str, fuzz_node: Node) -> Api:
    """The node's app (one per backend: its lifespan keeps running) and a role's bearer token.

    The node is the module's own and is not cleaned between the 200-odd examples (cleaning
    costs more than a request): what one example wrote stays for the next, as on a live node,
    and no other test sees it.
    """
    node = fuzz_node
    app = _apps.get(node.url)
    if app is None:
        app = _apps[node.url] = create_app(runtime=node.runtime)
        # Every role's token before any example: fuzzing the token endpoint with wrong
        # passwords makes the test client's address wait (the sign-in back-off).
        with TestClient(app) as client:
            for name, username in ROLES.items():
                r = client.post(
                    "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
                )
                assert r.status_code == 200, r.text
                _tokens[(node.url, name)] = r.json()["access_token"]
    return Api(app, {"Authorization": f"Bearer {_tokens[(node.url, role)]}"})


def _call(case: schemathesis.Case, api: Api) -> None:
    case.operation.schema.app = api.app  # the checks' own probes go to the same app
    case.call_and_validate(app=api.app, headers=dict(api.headers))


@full.parametrize()
@pytest.mark.parametrize("role", ["bureau_officer"])
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case, api: Api) -> None:
    _call(case, api)


@fuzz.parametrize()
@pytest.mark.parametrize("role", ["clerk"])
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_fuzzed(case: schemathesis.Case, api: Api) -> None:
    _call(case, api)
