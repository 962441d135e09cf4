"""Signed checkpoints: the node key, the interval job, the migration that chains old records."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.audit.helpers import write
from tests.conftest import Node, _pg_database
from yibao.audit import checkpoints
from yibao.audit.verify import verify_chain
from yibao.config import Settings
from yibao.db import Database, make_engine
from yibao.migrate import upgrade


def test_the_node_key_is_made_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    key = checkpoints.node_key(settings)
    path = tmp_path / "audit-ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert checkpoints.node_key(settings).key_id == key.key_id
    assert set(checkpoints.verification_keys(settings)) == {key.key_id}


def test_the_timer_signs_only_a_head_that_moved(clean: Node) -> None:
    timer = checkpoints.CheckpointTimer(clean.runtime.db, clean.settings, minutes=60)
    assert timer.tick() is None  # nothing written yet
    write(clean, 3)
    cp = timer.tick()
    assert cp is not None and cp.seq == 4  # the three, and the record of the checkpoint itself
    assert timer.tick() is None
    write(clean, 1)
    second = timer.tick()
    assert second is not None and second.seq == 6
    keys = checkpoints.verification_keys(clean.settings)
    with clean.runtime.db.session() as s:
        latest = checkpoints.latest_checkpoints(s, clean.settings.agency, 10)
        assert [c.seq for c in latest] == [6, 4]
        assert all(checkpoints.checkpoint_valid(keys, c) for c in latest)
        head_hash = s.execute(text("SELECT hash FROM audit_records WHERE seq = 6")).scalar()
    assert latest[0].head_hash == head_hash
    signed = checkpoints.checkpoint_text("500118", 6, head_hash, checkpoints.at_text(latest[0].at))
    assert signed.startswith(b"yibao-audit-checkpoint\n500118\n6\n")
    report = verify_chain(clean.runtime.db, clean.settings.agency, keys=keys)
    assert report.ok and report.checkpoints_checked == 2


def test_the_app_starts_and_stops_the_timer(clean: Node) -> None:
    from fastapi.testclient import TestClient

    from yibao.web.app import create_app

    with TestClient(create_app(runtime=clean.runtime)) as c:
        assert c.get("/healthz").status_code == 200
        import threading

        assert any(t.name == "yibao-audit-checkpoint" for t in threading.enumerate())


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    gen = _pg_database()
    url = next(gen)
    yield url
    with pytest.raises(StopIteration):
        next(gen)


def test_the_migration_chains_existing_records(old_database: str) -> None:
    upgrade(old_database, "0017")
    engine = make_engine(old_database)
    detail = json.dumps({"b": 1, "a": "王"})  # not canonical: keys unsorted, \\u escapes
    with engine.begin() as conn:
        for i, agency in enumerate(["500118", "500118", "510500", "500118"]):
            conn.execute(
                text(
                    "INSERT INTO audit_records (agency, at, actor_id, actor_name, action, "
                    "object_type, object_id, ip, detail) VALUES (:a, :at, NULL, 'old', 'x', 'case', "
                    ":o, NULL, :d)"
                ),
                {"a": agency, "at": datetime(2026, 1, 1, 8, i, tzinfo=UTC).replace(tzinfo=None)
                 if old_database.startswith("sqlite") else datetime(2026, 1, 1, 8, i, tzinfo=UTC),
                 "o": str(i), "d": detail},
            )  # fmt: skip
    engine.dispose()
    upgrade(old_database)
    db = Database(old_database)
    try:
        for agency, n in (("500118", 3), ("510500", 1)):
            report = verify_chain(db, agency, keys={})
            assert report.ok, report.message
            assert (report.checked, report.head_seq) == (n, n)
        with db.session() as s:
            stored = s.execute(text("SELECT detail FROM audit_records WHERE seq = 1")).scalar()
        assert stored in ('{"a":"王","b":1}', {"a": "王", "b": 1})
    finally:
        db.dispose()
