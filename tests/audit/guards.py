"""Test-only: empty the audit tables between tests despite the database's guards.

The product offers no way around the triggers that keep audit records; the tests' clean-up
needs one. PostgreSQL (the tests connect as a superuser): row triggers do not fire under
``session_replication_role = replica`` for the transaction. SQLite: the triggers are dropped
and created again in the same transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

_migration = importlib.import_module("yibao.migrations.versions.0018_audit_chain")
AUDIT_TABLES = ("audit_records", "audit_heads", "audit_checkpoints", "audit_archives")


@contextmanager
def guards_lifted(session: Session) -> Iterator[None]:
    """Within the session's transaction, statements may change or remove audit records."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        session.execute(text("SET LOCAL session_replication_role = origin"))
        return
    for name, _ddl in _migration.SQLITE_TRIGGERS:
        session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    yield
    for _name, ddl in _migration.SQLITE_TRIGGERS:
        session.execute(text(ddl))


def reset_audit(session: Session) -> None:
    """Remove every audit record, head, checkpoint and archive (in the caller's transaction)."""
    with guards_lifted(session):
        for table in AUDIT_TABLES:
            session.execute(text(f"DELETE FROM {table}"))
