"""Records get consecutive numbers and valid links as they are written, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Node
from yibao.audit import chain
from yibao.audit import service as audit
from yibao.audit.models import AuditHead, AuditRecord


def _write(node: Node, n: int, *, read_session: bool = False) -> None:
    db = node.runtime.db
    if read_session:
        with db.session() as s:
            for i in range(n):
                audit.record(
                    s,
                    agency=node.settings.agency,
                    actor_id=None,
                    actor_name="t",
                    action="test.read",
                    object_type="case",
                    object_id=str(i),
                )
            s.commit()
        return
    with db.uow() as uow:
        for i in range(n):
            audit.record(
                uow.session,
                agency=node.settings.agency,
                actor_id=None,
                actor_name="t",
                action="test.write",
                object_type="case",
                object_id=str(i),
                detail={"i": i, "名": "王"},
            )
        uow.commit()


def rows(node: Node) -> list[dict[str, object]]:
    with node.runtime.db.session() as s:
        out = []
        for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
            out.append({c: getattr(r, c) for c in (*chain.FIELDS, "hash")})
            out[-1]["at"] = chain.at_text(r.at)
        return out


def test_records_are_chained_in_order(clean: Node) -> None:
    _write(clean, 3)
    _write(clean, 2, read_session=True)
    got = rows(clean)
    assert [r["seq"] for r in got] == [1, 2, 3, 4, 5]
    assert got[0]["prev_hash"] == chain.GENESIS
    assert chain.check(got) is None
    with clean.runtime.db.session() as s:
        head = s.get(AuditHead, clean.settings.agency)
        assert head is not None and head.seq == 5 and head.hash == got[-1]["hash"]
