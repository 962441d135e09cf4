"""`yibao audit verify` names the first bad record of a tampered chain, on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from tests.audit.helpers import chain_rows, cli, renumber_after, sql, tampering, write
from tests.conftest import Node
from yibao.audit import chain
from yibao.audit.models import AuditRecord
from yibao.audit.verify import verify_chain


@pytest.fixture
def chained(clean: Node, monkeypatch: pytest.MonkeyPatch) -> Node:
    """30 records, a checkpoint (record 31 and the signed head), 5 more records."""
    write(clean, 30)
    code, out = cli(clean, monkeypatch, "audit", "checkpoint")
    assert code == 0, out
    assert "checkpoint at seq 31" in out
    write(clean, 5)
    return clean


def test_an_intact_chain_verifies(chained: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = cli(chained, monkeypatch, "audit", "verify", "--quiet")
    assert code == 0, out
    assert "ok: audit chain of 500118 verified: 36 records up to seq 36" in out
    assert "1 checkpoint(s)" in out and "审计链完整" in out
    code, out = cli(chained, monkeypatch, "audit", "verify", "--json")
    report = json.loads(out)
    assert report["ok"] is True and report["checked"] == 36 and report["checkpoints_checked"] == 1


def _edit(node: Node) -> None:
    sql(node, "UPDATE audit_records SET actor_name = 'x' WHERE seq = 10")


def _edit_and_rehash(node: Node) -> None:
    rows = chain_rows(node)
    row = {**rows[9], "actor_name": "x"}
    with tampering(node) as s:
        s.execute(
            text("UPDATE audit_records SET actor_name = 'x', hash = :h WHERE seq = 10"),
            {"h": chain.record_hash(row)},
        )


def _delete(node: Node) -> None:
    sql(node, "DELETE FROM audit_records WHERE seq = 10")


def _delete_and_renumber(node: Node) -> None:
    with tampering(node) as s:
        s.execute(text("DELETE FROM audit_records WHERE seq = 10"))
        renumber_after(s, 10, -1)
        s.execute(text("UPDATE audit_heads SET seq = seq - 1"))


def _insert(node: Node) -> None:
    rows = chain_rows(node)
    at = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
    fake = {k: v for k, v in rows[9].items() if k not in ("seq", "prev_hash", "hash")}
    fake.update(actor_name="冒名", at=chain.at_text(at))
    (built,) = chain.build([fake], start_seq=10, prev=rows[8]["hash"])
    with tampering(node) as s:
        renumber_after(s, 9, 1)
        s.execute(insert(AuditRecord.__table__), [{**built, "at": at}])
        s.execute(text("UPDATE audit_heads SET seq = seq + 1"))


def _reorder(node: Node) -> None:
    with tampering(node) as s:
        s.execute(text("UPDATE audit_records SET seq = -1 WHERE seq = 10"))
        s.execute(text("UPDATE audit_records SET seq = 10 WHERE seq = 11"))
        s.execute(text("UPDATE audit_records SET seq = 11 WHERE seq = -1"))


def _truncate(node: Node) -> None:
    sql(node, "DELETE FROM audit_records WHERE seq > 25")


def _rewrite_everything(node: Node) -> None:
    """Edit record 10 and recompute every hash after it, and the head: only the signed
    checkpoint at seq 31 still tells."""
    rows = chain_rows(node)
    rows[9]["actor_name"] = "x"
    plain = [{k: v for k, v in r.items() if k not in ("seq", "prev_hash", "hash")} for r in rows]
    rebuilt = chain.build(plain)
    with tampering(node) as s:
        for r in rebuilt:
            s.execute(
                text("UPDATE audit_records SET actor_name = :n, prev_hash = :p, hash = :h "
                     "WHERE seq = :s"),
                {"n": r["actor_name"], "p": r["prev_hash"], "h": r["hash"], "s": r["seq"]},
            )  # fmt: skip
        s.execute(text("UPDATE audit_heads SET hash = :h"), {"h": rebuilt[-1]["hash"]})


def _forge_checkpoint(node: Node) -> None:
    sql(node, "UPDATE audit_checkpoints SET seq = 20")


CASES: list[tuple[Callable[[Node], None], str, str, str]] = [
    (_edit, "audit chain broken at seq 10: record edited (hash mismatch)", "审计链在第10条被篡改", "edited"),
    (_edit_and_rehash, "audit chain broken at seq 10: record edited", "审计链在第10条被篡改", "edited"),
    (_delete, "audit chain broken at seq 10: record deleted (gap in the sequence)", "记录被删除", "deleted"),
    (_delete_and_renumber, "audit chain broken at seq 10: record deleted", "审计链在第10条", "deleted"),
    (_insert, "audit chain broken at seq 10: record inserted", "记录被插入", "inserted"),
    (_reorder, "audit chain broken at seq 10: records reordered", "记录顺序被改动", "reordered"),
    (_truncate, "audit chain broken at seq 26: chain truncated (the head says seq 36)", "被截断", "truncated"),
    (_rewrite_everything, "broken at seq 31: the signed checkpoint at seq 31 does not match", "检查点不符", "checkpoint_mismatch"),
    (_forge_checkpoint, "audit checkpoint at seq 20: signature does not verify", "签名无效", "checkpoint_signature"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tamper", "english", "chinese", "code"), CASES, ids=[c[3] + "-" + c[0].__name__ for c in CASES]
)
def test_tampering_is_named_at_the_first_bad_record(
    chained: Node,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Node], None],
    english: str,
    chinese: str,
    code: str,
) -> None:
    tamper(chained)
    exit_code, out = cli(chained, monkeypatch, "audit", "verify")
    assert exit_code == 1, out
    assert english in out and chinese in out
    report = verify_chain(chained.runtime.db, chained.settings.agency, keys={})
    assert report.ok is False and report.problem in (code, "checkpoint_signature")
    exit_code, out = cli(chained, monkeypatch, "audit", "verify", "--json")
    data = json.loads(out)
    assert exit_code == 1 and data["problem"] == code and data["ok"] is False


def test_verify_reads_in_batches_and_reports_progress(chained: Node) -> None:
    seen: list[tuple[int, int]] = []
    from yibao.audit.checkpoints import verification_keys

    keys = verification_keys(chained.settings)
    report = verify_chain(
        chained.runtime.db,
        chained.settings.agency,
        batch=7,
        progress=lambda d, t: seen.append((d, t)),
        keys=keys,
    )
    assert report.ok, report.message
    assert seen[0] == (7, 36) and seen[-1] == (36, 36) and len(seen) == 6


def test_an_empty_chain_verifies(clean: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = cli(clean, monkeypatch, "audit", "verify", "-q")
    assert code == 0 and "0 records" in out
