"""What the drills share: a fresh database on either backend with reference data and users."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import PASSWORD, PG_ADMIN_URL
from yibao.accounts.service import create_user
from yibao.bootstrap import init_reference
from yibao.config import Settings
from yibao.db import Database
from yibao.migrate import upgrade

YIBAO = [sys.executable, "-m", "yibao.cli"]
SECRET = "drill-secret-" + "d" * 32
DRILL_USERS = [("drill_clerk", "clerk", "F01"), ("drill_officer", "bureau_officer", None)]


@dataclass
class Fresh:
    """A migrated, initialised database nobody else uses, and the environment to serve it."""

    backend: str
    url: str
    data_dir: Path
    settings: Settings

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "YIBAO_DATA_DIR": str(self.data_dir),
            "YIBAO_DATABASE_URL": self.url,
            "YIBAO_SECRET_KEY": SECRET,
            "YIBAO_RELAY": "false",
            **extra,
        }


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"yibao_drill_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def empty_database(backend: str, data_dir: Path) -> Iterator[str]:
    """The URL of a new, empty database on ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'yibao.sqlite3'}"
    else:
        with pg_database() as url:
            yield url


@contextlib.contextmanager
def fresh_node(backend: str, data_dir: Path) -> Iterator[Fresh]:
    """A fresh database on ``backend``: migrated, reference data, the drill's users."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with empty_database(backend, data_dir) as url:
        settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET)
        upgrade(url)
        init_reference(settings)
        db = Database(url)
        try:
            with db.uow() as uow:
                for username, role, station in DRILL_USERS:
                    create_user(
                        uow.session,
                        agency=settings.agency,
                        username=username,
                        role=role,
                        password=PASSWORD,
                        station=station,
                    )
                uow.commit()
        finally:
            db.dispose()
        yield Fresh(backend, url, data_dir, settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(base):
        if time.monotonic() > deadline:
            raise AssertionError(f"no server answered at {base} within {timeout:.0f} s")
        time.sleep(0.02)


def token(base: str, username: str) -> str:
    r = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``yibao serve`` process on a free loopback port, once it answers."""
    import os

    port = free_port()
    proc = subprocess.Popen(
        [*YIBAO, "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
    except AssertionError:
        proc.kill()
        raise
    return proc, base
