"""Concurrent writers: every record gets its own number, no gaps, and the chain verifies."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.conftest import Node
from yibao.audit import service as audit
from yibao.audit.models import AuditHead, AuditRecord
from yibao.audit.verify import verify_chain
from yibao.cases.models import Case

THREADS = 8
TRANSACTIONS = 6  # per thread
PER_TRANSACTION = 3


def _one(node: Node, t: int, k: int, *, reader: bool) -> None:
    db = node.runtime.db
    agency = node.settings.agency

    def add(session: object, j: int) -> None:
        audit.record(
            session,  # type: ignore[arg-type]
            agency=agency,
            actor_id=t,
            actor_name=f"thread-{t}",
            action="case.view" if reader else "case.intake",
            object_type="case",
            object_id=f"{t}-{k}-{j}",
        )

    if reader:
        # A read session (deferred on SQLite) that read before it writes: its snapshot may be
        # stale by the time it records the full read.
        with db.session() as s:
            s.scalar(select(func.count()).select_from(Case))
            s.scalar(select(func.count()).select_from(AuditRecord))
            for j in range(PER_TRANSACTION):
                add(s, j)
            s.commit()
        return
    with db.uow() as uow:
        for j in range(PER_TRANSACTION):
            add(uow.session, j)
            uow.session.flush()  # several flushes in one transaction keep the numbers in order
        uow.commit()


def test_concurrent_writers_and_readers_chain_without_gaps(clean: Node) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        try:
            start.wait()
            for k in range(TRANSACTIONS):
                _one(clean, t, k, reader=(t + k) % 2 == 0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    total = THREADS * TRANSACTIONS * PER_TRANSACTION
    with clean.runtime.db.session() as s:
        seqs = list(s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)))
        head = s.get(AuditHead, clean.settings.agency)
        ids = set(s.scalars(select(AuditRecord.object_id)))
    assert seqs == list(range(1, total + 1))
    assert len(ids) == total  # nothing lost, nothing written twice
    assert head is not None and head.seq == total
    report = verify_chain(clean.runtime.db, clean.settings.agency, keys={})
    assert report.ok, report.message
    assert report.checked == total


def test_a_rolled_back_change_uses_no_number(clean: Node) -> None:
    db = clean.runtime.db
    with db.uow() as uow:
        audit.record(uow.session, agency=clean.settings.agency, actor_id=None, actor_name="a",
                     action="x", object_type="case", object_id="1")  # fmt: skip
        uow.session.flush()
        uow.rollback()
    with db.uow() as uow:
        audit.record(uow.session, agency=clean.settings.agency, actor_id=None, actor_name="b",
                     action="x", object_type="case", object_id="2")  # fmt: skip
        uow.commit()
    with db.session() as s:
        assert list(s.scalars(select(AuditRecord.seq))) == [1]
    assert verify_chain(db, clean.settings.agency, keys={}).ok


def test_a_read_session_with_a_stale_snapshot_still_records(clean: Node) -> None:
    db = clean.runtime.db
    agency = clean.settings.agency
    with db.session() as reader:
        reader.scalar(select(func.count()).select_from(AuditRecord))  # snapshot taken
        with db.uow() as uow:  # another writer commits meanwhile
            audit.record(uow.session, agency=agency, actor_id=None, actor_name="w",
                         action="case.intake", object_type="case", object_id="1")  # fmt: skip
            uow.commit()
        audit.record(reader, agency=agency, actor_id=None, actor_name="r",
                     action="case.view", object_type="case", object_id="1")  # fmt: skip
        reader.commit()
    with db.session() as s:
        rows = s.execute(select(AuditRecord.seq, AuditRecord.actor_name).order_by(AuditRecord.seq))
        assert [tuple(r) for r in rows] == [(1, "w"), (2, "r")]
    assert verify_chain(db, agency, keys={}).ok
