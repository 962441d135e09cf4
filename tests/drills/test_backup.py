"""Backup and restore drill: a node's backup, restored into a new empty database, answers the same.

On each backend a fresh node takes a few cases through the API and moves some of them on, and
signs an audit checkpoint. ``yibao backup`` (the real command, in a subprocess) runs while the
node's app still holds its connections, so on SQLite the last writes are still in the ``-wal``
file. ``yibao restore`` puts the backup into a new database beside a new data directory holding
only the node's two keys (they are never in a backup). The restored node must then pass
``yibao audit verify``, find every sealed value under the key its data directory holds
(``yibao keys status``), and its app must answer the same case list and timeline and open a
sealed ID number. Figures: docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.api.helpers import intake_body, make_id
from tests.conftest import PASSWORD
from tests.drills.common import SECRET, YIBAO, Fresh, empty_database, fresh_node
from yibao.audit.checkpoints import KEY_FILE, make_checkpoint, node_key
from yibao.cli import app
from yibao.config import Settings, get_settings
from yibao.db import Database
from yibao.sealing.keys import KEY_FILE_NAME
from yibao.web.app import create_app

# (service, actions after intake): two received, two in progress, one completed, one rejected.
CASES: list[tuple[str, list[dict[str, Any]]]] = [
    ("insurance_certificate", []),
    ("insurance_certificate", []),
    ("insurance_certificate", [{"action": "start"}]),
    ("outpatient_reimbursement", [{"action": "start"}]),
    ("insurance_certificate", [{"action": "start"}, {"action": "complete"}]),
    ("insurance_certificate", [{"action": "reject", "reason": "材料不属于本事项"}]),
]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``yibao`` command with the node's environment."""
    return subprocess.run(
        [*YIBAO, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``yibao ARGS`` in this process (Typer's runner): no interpreter start, same code path.

    Anything but a clean exit is raised, so an expected failure that would print a traceback
    fails the test.
    """
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def bearer(http: TestClient, username: str) -> dict[str, str]:
    r = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def answers(http: TestClient, case_no: str) -> dict[str, Any]:
    """What the node says: the officer's case list, one timeline, one case's full ID number."""
    officer = bearer(http, "drill_officer")
    listed = http.get("/api/v1/cases", params={"limit": 200}, headers=officer)
    assert listed.status_code == 200, listed.text
    timeline = http.get(f"/api/v1/cases/{case_no}/events", headers=officer)
    assert timeline.status_code == 200, timeline.text
    revealed = http.post(f"/api/v1/cases/{case_no}/applicant/id-number", headers=officer)
    assert revealed.status_code == 200, revealed.text
    return {
        "cases": listed.json()["items"],
        "events": timeline.json(),
        "id_number": revealed.json()["id_number"],
    }


def take_cases(client: TestClient) -> tuple[str, str]:
    """The drill's cases; returns one case number and the ID number it was taken with."""
    clerk = bearer(client, "drill_clerk")
    first: tuple[str, str] | None = None
    for service, actions in CASES:
        id_number = make_id()
        r = client.post(
            "/api/v1/cases",
            json=intake_body(
                service_code=service,
                applicant={"id_number": id_number, "name": "张备份", "phone": "13800138000"},
            ),
            headers=clerk,
        )
        assert r.status_code == 201, r.text
        case = r.json()
        first = first or (case["case_no"], id_number)
        for step in actions:
            r = client.post(
                f"/api/v1/cases/{case['case_no']}/actions",
                json={"version": case["version"], **step},
                headers=clerk,
            )
            assert r.status_code == 200, r.text
            case = r.json()
    assert first is not None
    return first


def app_settings(data_dir: Path, url: str) -> Settings:
    """An in-process node's settings: no relay, no checkpoint timer."""
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,
        relay=False,
        audit_checkpoint_minutes=0,
    )


def keys_only(source: Path, target: Path) -> Path:
    """A new data directory with the node's data keys and audit key, as kept apart from backups."""
    target.mkdir(parents=True)
    for name in (KEY_FILE_NAME, KEY_FILE):
        shutil.copy2(source / name, target / name)
    return target


@dataclass
class Source:
    """A node with data, its backup, and what it answered before the backup."""

    node: Fresh
    backup: Path
    case_no: str
    id_number: str
    before: dict[str, Any]
    backup_seconds: float
    backup_output: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    backend: str = request.param
    root = tmp_path_factory.mktemp(f"backup-{backend}")
    with fresh_node(backend, root / "node") as node:
        settings = app_settings(node.data_dir, node.url)
        with TestClient(create_app(settings)) as client:
            case_no, id_number = take_cases(client)
            db = Database(node.url)
            try:
                make_checkpoint(db, settings.agency, node_key(settings))
            finally:
                db.dispose()
            before = answers(client, case_no)
            # The app still holds its connections: on SQLite the last commits sit in the WAL.
            backup = root / ("node.sqlite3" if backend == "sqlite" else "node.pgdump")
            started = time.perf_counter()
            done = run(node.env(), "backup", str(backup))
            seconds = time.perf_counter() - started
            assert done.returncode == 0, done.stderr
        yield Source(node, backup, case_no, id_number, before, seconds, done.stdout)


def test_restored_node_answers_the_same_and_its_audit_chain_verifies(
    source: Source, tmp_path: Path
) -> None:
    backend = source.node.backend
    assert source.backup.stat().st_size > 0
    assert f"{len(CASES)} cases" in source.backup_output, source.backup_output
    data_dir = keys_only(source.node.data_dir, tmp_path / "restored")
    with empty_database(backend, data_dir) as url:
        env = Fresh(backend, url, data_dir, source.node.settings).env()
        started = time.perf_counter()
        restored = run(env, "restore", str(source.backup))
        restore_seconds = time.perf_counter() - started
        assert restored.returncode == 0, restored.stderr
        assert f"{len(CASES)} cases" in restored.stdout
        assert "ok: audit chain of 500118 verified" in restored.stdout
        assert "1 checkpoint(s)" in restored.stdout  # its signature checked with the node's key

        verified = run(env, "audit", "verify", "--quiet")
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("ok: audit chain of 500118 verified"), verified.stdout
        # Every sealed value is under the key the new data directory holds (none under a new one).
        sealed = cli(env, "keys", "status")
        assert sealed.returncode == 0, sealed.stderr
        assert "Rows not under the current key: 0" in sealed.stdout, sealed.stdout
        again = cli(env, "restore", str(source.backup))  # over the data now there: refused
        assert again.returncode == 1
        assert "refusing to restore over it" in again.stderr or "is not empty" in again.stderr

        with TestClient(create_app(app_settings(data_dir, url))) as client:
            after = answers(client, source.case_no)
    assert after == source.before
    states = sorted(c["state"] for c in after["cases"])
    assert states == sorted(
        ["received", "received", "in_progress", "in_progress", "completed", "rejected"]
    )
    assert after["id_number"] == source.id_number
    print(
        f"\nbackup drill on {backend}: backup {source.backup.stat().st_size:,} bytes in "
        f"{source.backup_seconds:.2f} s, restore {restore_seconds:.2f} s (both with the command's "
        f"start)\n  {source.backup_output.splitlines()[0]}\n  {restored.stdout.splitlines()[0]}"
    )


def test_backup_taken_while_cases_are_taken_is_consistent(source: Source, tmp_path: Path) -> None:
    """The server keeps writing during the backup: what the backup holds is whole transactions."""
    from yibao.backup import service

    node = source.node
    stop, taken, errors = threading.Event(), [], []

    def desk(client: TestClient, clerk: dict[str, str]) -> None:
        while not stop.is_set():
            r = client.post("/api/v1/cases", json=intake_body(), headers=clerk)
            (taken.append(r.json()["case_no"]) if r.status_code == 201 else errors.append(r.text))

    with TestClient(create_app(app_settings(node.data_dir, node.url))) as client:
        thread = threading.Thread(target=desk, args=(client, bearer(client, "drill_clerk")))
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while len(taken) < 3 and not errors and time.monotonic() < deadline:
                time.sleep(0.01)
            during = len(taken)
            summary = service.backup(node.url, tmp_path / "hot.backup")
            overlapped = len(taken) - during  # intakes acknowledged while the backup ran
        finally:
            stop.set()
            thread.join(timeout=30)
    assert errors == [] and during >= 3
    data_dir = keys_only(node.data_dir, tmp_path / "restored")
    with empty_database(node.backend, data_dir) as url:
        restored = service.restore(url, tmp_path / "hot.backup")
        report = service.verify_audit(app_settings(data_dir, url), url)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                whole = conn.execute(
                    text(
                        "SELECT count(*) FROM cases c WHERE EXISTS (SELECT 1 FROM case_events e "
                        "WHERE e.case_id = c.id AND e.seq = 1 AND e.action = 'intake') AND EXISTS "
                        "(SELECT 1 FROM audit_records a WHERE a.action = 'case.intake' "
                        "AND a.object_id = c.case_no)"
                    )
                ).scalar_one()
        finally:
            engine.dispose()
    assert report.ok, report.message
    cases = restored.counts["cases"]
    assert cases == summary.counts["cases"] == whole  # each case with its event and audit record
    before = len(source.before["cases"])
    assert before + during <= cases <= before + len(taken)
    print(
        f"\nhot backup on {node.backend}: {summary.seconds:.2f} s, {overlapped} intakes "
        f"acknowledged meanwhile, {cases - before} of {len(taken)} new cases in the backup"
    )


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
def test_restore_of_an_edited_backup_fails_the_audit_verification(
    source: Source, tmp_path: Path
) -> None:
    from tests.audit.guards import _migration

    edited = tmp_path / "edited.sqlite3"
    shutil.copy2(source.backup, edited)
    with contextlib.closing(sqlite3.connect(edited)) as conn:
        for name, _ddl in _migration.SQLITE_TRIGGERS:  # the guards only the database keeps
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute("UPDATE audit_records SET actor_name = 'someone else' WHERE seq = 3")
        conn.commit()
    data_dir = keys_only(source.node.data_dir, tmp_path / "restored")
    env = Fresh("sqlite", f"sqlite:///{data_dir / 'yibao.sqlite3'}", data_dir, source.node.settings)
    done = cli(env.env(), "restore", str(edited))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "audit chain broken at seq 3: record edited" in done.stderr


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
def test_restore_onto_a_sqlite_file_that_holds_data_needs_force(
    source: Source, tmp_path: Path
) -> None:
    data_dir = keys_only(source.node.data_dir, tmp_path / "other")
    target = data_dir / "yibao.sqlite3"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("CREATE TABLE precious (note TEXT)")
        conn.execute("INSERT INTO precious VALUES ('do not lose me')")
        conn.commit()
    kept = target.read_bytes()
    env = Fresh("sqlite", f"sqlite:///{target}", data_dir, source.node.settings).env()

    refused = cli(env, "restore", str(source.backup))
    assert refused.returncode == 1
    assert f"not restored: {target} exists and is not empty; refusing to overwrite it" in (
        refused.stderr
    )
    assert "--force" in refused.stderr
    assert target.read_bytes() == kept

    forced = cli(env, "restore", "--force", str(source.backup))
    assert forced.returncode == 0, forced.stderr
    assert "ok: audit chain of 500118 verified" in forced.stdout
    with contextlib.closing(sqlite3.connect(target)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "precious" not in tables and "cases" in tables


def test_restore_refuses_a_file_that_is_not_a_yibao_backup(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (note TEXT)")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup\n", "utf-8")
    target = tmp_path / "node" / "yibao.sqlite3"
    env = {"YIBAO_DATA_DIR": str(target.parent), "YIBAO_DATABASE_URL": f"sqlite:///{target}"}
    for path, says in [
        (other, "is an SQLite database, but not a yibao one"),
        (text_file, "is not a yibao backup"),
        (tmp_path / "absent", "no backup at"),
    ]:
        done = cli(env, "restore", str(path))
        assert done.returncode == 1 and says in done.stderr, done.stderr
    assert not target.exists() or target.stat().st_size == 0


@pytest.mark.parametrize(
    ("url", "path", "folder", "says"),
    [
        (
            "postgresql+psycopg://postgres@127.0.0.1:1/none",
            None,
            "",
            "backup not written: cannot reach the database postgresql+psycopg://postgres@"
            "127.0.0.1:1/none: connection failed",
        ),
        (
            "postgresql+psycopg://postgres@127.0.0.1:5432/none",
            "",
            "",
            "backup not written: pg_dump not found on PATH",
        ),
        ("sqlite", None, "missing", "backup not written: cannot write"),
    ],
    ids=["unreachable", "no-pg_dump", "no-folder"],
)
def test_failed_backup_says_why(
    url: str, path: str | None, folder: str, says: str, tmp_path: Path
) -> None:
    env = {"YIBAO_DATA_DIR": str(tmp_path), "YIBAO_DATABASE_URL": url}
    if url == "sqlite":
        env["YIBAO_DATABASE_URL"] = f"sqlite:///{tmp_path / 'yibao.sqlite3'}"
        sqlite3.connect(tmp_path / "yibao.sqlite3").close()
    if path is not None:
        env["PATH"] = path
    dest = tmp_path / folder / "backup.file"
    done = cli(env, "backup", str(dest))
    assert done.returncode == 1
    assert says in done.stderr, done.stderr
    assert not dest.exists()
