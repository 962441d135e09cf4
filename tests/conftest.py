"""Shared fixtures: a fresh database per run on SQLite and on PostgreSQL, users, a fixed clock."""

from __future__ import annotations

import contextlib
import os
import uuid

# Cheap password hashing for the whole run, subprocess nodes included (they inherit the
# environment); production keeps argon2-cffi's defaults.
os.environ.setdefault("YIBAO_ARGON2_COST", "test")
# Hundreds of sign-ins from one address (the test client, 127.0.0.1) within minutes; the
# per-address sign-in limit is tested on its own with a small limit (tests/throttle).
os.environ.setdefault("YIBAO_LOGIN_RATE_PER_MINUTE", "100000")
# Officers, supervisors, auditors and admins sign in with a second factor by default; the
# suite's many journeys sign in with a password, and tests/signin turns the policy on itself.
os.environ.setdefault("YIBAO_MFA_REQUIRED_ROLES", "")
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from yibao.accounts.service import create_user
from yibao.bootstrap import init_reference
from yibao.config import Settings
from yibao.db import Database
from yibao.migrate import upgrade
from yibao.runtime import Runtime
from yibao.web.app import create_app

try:  # pytest ≥ 9 keeps node ids as NodeId (see pytest_collection_modifyitems below)
    from _pytest.nodeid import NodeId
except ImportError:  # pragma: no cover - pytest 8: xdist's own group suffix works
    NodeId = None  # type: ignore[assignment,misc]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each ``xdist_group`` (browser, federation) on one xdist worker under loadgroup.

    pytest-xdist 3.8 marks a grouped test by appending ``@group`` to ``item._nodeid``, which
    pytest 9 no longer reads (a node's id is ``item._id``, a ``NodeId``): every group is
    silently spread over the workers, and each worker would start its own servers. Put the
    suffix where pytest 9 keeps the id; a no-op where xdist already did it.
    """
    if NodeId is None or not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        if mark is None or "@" in item.nodeid:
            continue
        group = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
        item._id = NodeId.parse(f"{item.nodeid}@{group}")


PG_ADMIN_URL = os.environ.get(
    "YIBAO_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "test-password-1"
# A Tuesday before the National Day holiday of 2026 (10/1–10/7 off, Sat 10/10 worked).
FIXED_NOW = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # 10:00 in Chongqing

USERS = [
    # username, role, station
    ("clerk_f01", "clerk", "F01"),
    ("clerk_f02", "clerk", "F02"),
    ("clerk_m01", "clerk", "M01"),
    ("clerk_v01", "clerk", "V01"),
    ("master_f01", "station_master", "F01"),
    ("officer", "bureau_officer", None),
    ("supervisor", "supervisor", None),
    ("auditor", "auditor", None),
    ("admin", "admin", None),
]


class Clock:
    """A settable clock for the runtime."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Node:
    """One migrated, initialised database with its runtime."""

    backend: str
    url: str
    settings: Settings
    runtime: Runtime
    clock: Clock


def _pg_database() -> Iterator[str]:
    name = f"yibao_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def make_node(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A fresh database on ``backend`` with reference data and users, until the block ends."""
    if backend == "sqlite":
        data_dir: Path = tmp_path_factory.mktemp("sqlite")
        gen: Iterator[str] | None = None
        url = f"sqlite:///{data_dir / 'yibao.sqlite3'}"
    else:
        data_dir = tmp_path_factory.mktemp("pg")
        gen = _pg_database()
        url = next(gen)
    # Tokens outlive the clock jumps that tests make (weeks ahead to test deadlines).
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="test-secret-" + "x" * 20,
        token_ttl_seconds=400 * 86400,
    )
    upgrade(url)
    init_reference(settings)
    db = Database(url)
    with db.uow() as uow:
        for username, role, station in USERS:
            create_user(
                uow.session,
                agency=settings.agency,
                username=username,
                role=role,
                password=PASSWORD,
                station=station,
            )
        uow.commit()
    clock = Clock(FIXED_NOW)
    runtime = Runtime(settings, db, clock=clock)
    try:
        yield Node(backend, url, settings, runtime, clock)
    finally:
        db.dispose()
        if gen is not None:
            with pytest.raises(StopIteration):
                next(gen)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """A fresh database on each backend for the whole run, with reference data and users."""
    with make_node(request.param, tmp_path_factory) as made:
        yield made


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """A node of the module's own, for tests that leave data behind (walks, fuzzing)."""
    with make_node(request.param, tmp_path_factory) as made:
        yield made


# Rows of these slices are removed by ``clean`` (children first), before the cases they refer to.
STATION_WORK = (
    "yibao.attachments.",
    "yibao.filings.",
    "yibao.ratings.",
    "yibao.questionnaires.",
    "yibao.leads.",
    "yibao.disputes.",
    "yibao.inspections.",
)


def station_work_tables() -> list[str]:
    """Tables of the station-work slices, children before parents."""
    from yibao.db import Base

    names = {
        m.local_table.name
        for m in Base.registry.mappers
        if m.class_.__module__.startswith(STATION_WORK)
    }
    return [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in names]


@pytest.fixture
def clean(node: Node) -> Node:
    """The node with no cases, events or audit records left by earlier tests."""
    with node.runtime.db.uow() as uow:
        for table in station_work_tables():
            uow.session.execute(text(f"DELETE FROM {table}"))
        for table in (
            "idempotency_keys",
            "case_events",
            "cases",
            "rate_counters",
            "sign_in_backoffs",
            "sign_in_policy",
            "recovery_codes",
            "user_totp",
        ):
            uow.session.execute(text(f"DELETE FROM {table}"))
        # Audit records, chain heads, checkpoints, archives: past the database's guards.
        from tests.audit.guards import reset_audit

        reset_audit(uow.session)
        uow.session.execute(text("UPDATE users SET tokens_valid_after = NULL, active = TRUE"))
        uow.commit()
    node.clock.now = FIXED_NOW
    node.runtime.invalidate()
    return node


@pytest.fixture
def client(clean: Node) -> Iterator[TestClient]:
    """An HTTP client of the node's app (the real ASGI stack, in-process)."""
    app = create_app(runtime=clean.runtime)
    with TestClient(app) as c:
        yield c


_tokens: dict[tuple[str, str], str] = {}


@pytest.fixture
def login(client: TestClient, clean: Node):  # type: ignore[no-untyped-def]
    """``login(username)`` → Authorization headers (tokens cached per backend)."""

    def _login(username: str) -> dict[str, str]:
        key = (clean.url, username)
        if key not in _tokens:
            r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            _tokens[key] = r.json()["access_token"]
        return {"Authorization": f"Bearer {_tokens[key]}"}

    return _login
