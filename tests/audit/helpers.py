"""Writing records and tampering with them as someone with database access would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.audit.guards import guards_lifted
from tests.conftest import Node
from yibao.audit import chain
from yibao.audit import service as audit
from yibao.audit.models import AuditRecord
from yibao.cli import app
from yibao.config import get_settings


def write(node: Node, n: int, *, action: str = "case.intake") -> None:
    """``n`` records in one transaction, as a use case writes them."""
    with node.runtime.db.uow() as uow:
        for i in range(n):
            audit.record(
                uow.session,
                agency=node.settings.agency,
                actor_id=1,
                actor_name="王芳",
                action=action,
                object_type="case",
                object_id=f"F01-{i:05d}",
                detail={"i": i, "service": "insurance_certificate"},
                role="clerk",
                unit="F01",
            )
        uow.commit()


def fields_of(r: AuditRecord) -> dict[str, Any]:
    out = {name: getattr(r, name) for name in (*chain.FIELDS, "hash")}
    out["at"] = chain.at_text(r.at)
    return out


def chain_rows(node: Node) -> list[dict[str, Any]]:
    with node.runtime.db.session() as s:
        stmt = select(AuditRecord).where(AuditRecord.agency == node.settings.agency)
        return [fields_of(r) for r in s.scalars(stmt.order_by(AuditRecord.seq))]


@contextmanager
def tampering(node: Node) -> Iterator[Session]:
    """A transaction past the triggers (a tamperer who dropped them first)."""
    with node.runtime.db.uow() as uow:
        with guards_lifted(uow.session):
            yield uow.session
        uow.commit()


def sql(node: Node, statement: str, **params: Any) -> None:
    with tampering(node) as s:
        s.execute(text(statement), params)


def renumber_after(s: Session, seq: int, delta: int) -> None:
    """Shift seq of every record after ``seq`` (two steps: the unique index)."""
    s.execute(
        text("UPDATE audit_records SET seq = -(seq + :d) WHERE seq > :s"), {"d": delta, "s": seq}
    )
    s.execute(text("UPDATE audit_records SET seq = -seq WHERE seq < 0"))


def cli(node: Node, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run ``yibao ARGS`` in-process against the node; (exit code, stdout + stderr)."""
    monkeypatch.setenv("YIBAO_DATABASE_URL", node.url)
    monkeypatch.setenv("YIBAO_DATA_DIR", str(node.settings.data_dir))
    monkeypatch.setenv("YIBAO_AGENCY", node.settings.agency)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output
