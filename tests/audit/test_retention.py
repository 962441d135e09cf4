"""Records cannot be changed, nor removed before the retention and an archive; purge works."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from tests.audit.helpers import cli, write
from tests.conftest import Node
from yibao.audit import checkpoints, retention
from yibao.audit import service as audit
from yibao.audit.models import AuditRecord
from yibao.audit.verify import verify_chain


def _old(node: Node, n: int, days_ago: int) -> None:
    """``n`` records written ``days_ago`` days ago (as if the node ran back then)."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    with node.runtime.db.uow() as uow:
        for i in range(n):
            uow.session.add(
                AuditRecord(agency=node.settings.agency, at=at + timedelta(seconds=i),
                            actor_id=None, actor_name="old", action="case.intake",
                            object_type="case", object_id=str(i), detail={})
            )  # fmt: skip
        uow.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET actor_name = 'x' WHERE seq = 2",
        "DELETE FROM audit_records WHERE seq = 2",
        "DELETE FROM audit_records",
    ],
)
def test_the_database_refuses_changes_and_early_removal(clean: Node, statement: str) -> None:
    write(clean, 3)
    _old(clean, 2, days_ago=400)  # old, but not archived: still kept
    with clean.runtime.db.uow() as uow, pytest.raises(DatabaseError):
        uow.session.execute(text(statement))
    with clean.runtime.db.uow() as uow, pytest.raises(DatabaseError):
        uow.session.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    with clean.runtime.db.session() as s:
        assert len(list(s.scalars(select(AuditRecord.id)))) == 5


def test_the_database_refuses_unchained_records(clean: Node) -> None:
    with clean.runtime.db.uow() as uow, pytest.raises(DatabaseError):
        uow.session.execute(
            text(
                "INSERT INTO audit_records (agency, at, actor_name, action, object_type, "
                "object_id, detail, result) VALUES ('500118', CURRENT_TIMESTAMP, 'x', 'x', 'x', "
                "'x', '{}', 'ok')"
            )
        )


def test_purge_needs_an_archive_and_a_checkpoint(
    clean: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old(clean, 10, days_ago=300)
    write(clean, 4)  # recent: kept whatever happens
    before = (datetime.now(UTC) - timedelta(days=200)).date().isoformat()
    code, out = cli(clean, monkeypatch, "audit", "purge", "--before", before)
    assert code == 1 and "nothing to purge" in out and "未清理" in out
    db = clean.runtime.db
    with db.uow() as uow:  # an archive, but no checkpoint covers it yet
        archive = retention.register_archive(uow.session, clean.settings.agency, 1, 10, "a" * 64)
        assert archive.checkpoint_id is None
        uow.commit()
    code, out = cli(clean, monkeypatch, "audit", "purge", "--before", before)
    assert code == 1, out
    code, out = cli(clean, monkeypatch, "audit", "checkpoint")
    assert code == 0, out
    with db.uow() as uow:
        digest = hashlib.sha256(b"export").hexdigest()
        archive = retention.register_archive(uow.session, clean.settings.agency, 1, 10, digest)
        assert archive.checkpoint_id is not None
        uow.commit()
    code, out = cli(clean, monkeypatch, "audit", "purge", "--before", "2000-01-01")
    assert code == 1, out  # nothing that old
    code, out = cli(clean, monkeypatch, "audit", "purge", "--before", before)
    assert code == 0, out
    assert "removed 10 archived records (seq 1–10)" in out
    with db.session() as s:
        left = list(s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)))
    # 11-14 recent, 15 the first archive's record, 16 the checkpoint's, 17 the second archive's,
    # 18 the purge itself.
    assert left == list(range(11, 19))
    code, out = cli(clean, monkeypatch, "audit", "verify", "-q")
    assert code == 0, out
    assert "8 records up to seq 18, from the archive at seq 10" in out
    report = verify_chain(
        db, clean.settings.agency, keys=checkpoints.verification_keys(clean.settings)
    )
    assert report.ok and report.anchor_seq == 10


def test_purge_refuses_a_broken_chain(clean: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.audit.helpers import sql

    _old(clean, 3, days_ago=300)
    write(clean, 1)
    sql(clean, "UPDATE audit_records SET actor_name = 'x' WHERE seq = 2")
    code, out = cli(clean, monkeypatch, "audit", "purge", "--before", "2030-01-01")
    assert code == 1 and "refusing to purge: audit chain broken at seq 2" in out


def test_register_archive_checks_its_input(clean: Node) -> None:
    from yibao.errors import ValidationFailed

    write(clean, 2)
    with clean.runtime.db.uow() as uow:
        for args in ((2, 1, "a" * 64), (1, 9, "a" * 64), (1, 2, "XYZ")):
            with pytest.raises(ValidationFailed):
                retention.register_archive(uow.session, clean.settings.agency, *args)


def test_record_fills_role_unit_request_from_the_request_context(clean: Node) -> None:
    from yibao.audit import context

    token = context.begin(request_id="req-1", ip="10.0.0.9")
    context.set_actor(role="clerk", unit="F01")
    try:
        with clean.runtime.db.uow() as uow:
            audit.record(uow.session, agency=clean.settings.agency, actor_id=1, actor_name="a",
                         action="case.view", object_type="case", object_id="1",
                         result="denied")  # fmt: skip
            uow.commit()
    finally:
        context.end(token)
    with clean.runtime.db.session() as s:
        r = s.scalars(select(AuditRecord)).one()
    assert (r.request_id, r.ip, r.role, r.unit, r.result) == (
        "req-1",
        "10.0.0.9",
        "clerk",
        "F01",
        "denied",
    )
    with pytest.raises(ValueError):
        audit.record(s, agency="500118", actor_id=1, actor_name="a", action="x",
                     object_type="case", object_id="1", result="maybe")  # fmt: skip
