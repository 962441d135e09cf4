"""A change without its audit record cannot commit: the guard on every session (issue 13).

Each session notes, per transaction, the tables it changed (ORM flushes and ORM-enabled
``insert``/``update``/``delete`` statements) and whether ``audit.record`` added a record. At
commit, a change of any table outside ``BOOKKEEPING`` with no record in the same transaction
raises :class:`MissingAuditRecord` and the transaction rolls back, so the change is never
stored. Loaders that fill a database in bulk (the demo, the benchmark generator, the set-up of
reference data) say so with :func:`bulk` and the reason, which is itself written to the log.

``YIBAO_AUDIT_GUARD=log`` only logs what would have been refused (for finding a use case that
lacks its record); the default is ``strict``.
"""

from __future__ import annotations

import logging
import os
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

log = logging.getLogger(__name__)

# Tables whose rows are the node's own bookkeeping, not a change anyone makes: the audit trail
# itself, counters of limits, session touches, and delivery state of messages already recorded.
BOOKKEEPING: frozenset[str] = frozenset(
    {
        "audit_records",
        "audit_heads",
        "audit_checkpoints",
        "audit_archives",
        "audit_settings",
        "audit_witnessed",
        "rate_counters",
        "sign_in_backoffs",
        "web_sessions",
        "idempotency_keys",
        "alembic_version",
        # Sync bookkeeping of field laptops: what is queued, what central has acknowledged
        # (the cases and answers themselves carry their records).
        "field_queue",
        "field_state",
        "field_receipts",
        # Delivery state of signed messages to partner nodes (each message was recorded when
        # it was written) and the nonces seen, against replays.
        "outbox",
        "seen_nonces",
    }
)

_CHANGED = "audit_guard.changed"
_AUDITED = "audit_guard.audited"
_BULK = "audit_guard.bulk"


class MissingAuditRecord(RuntimeError):
    """A transaction changed data but recorded nothing in the audit trail."""

    def __init__(self, tables: set[str]) -> None:
        super().__init__(
            "refused to commit a change without its audit record (tables: "
            + ", ".join(sorted(tables))
            + ")"
        )
        self.tables = tables


def _mode() -> str:
    return os.environ.get("YIBAO_AUDIT_GUARD", "strict").strip().lower()


def audited(session: Session) -> None:
    """Note that this transaction holds an audit record (called by ``audit.record``)."""
    session.info[_AUDITED] = True


def bulk(session: Session, reason: str) -> None:
    """Let the current transaction of ``session`` commit a load without a record per change.

    For loaders only (demo data, the benchmark generator, reference data, a field laptop's copy
    of central's reference tables); the reason is logged.
    """
    if session.info.get(_BULK) != reason:
        log.info("bulk load without per-change audit records: %s", reason)
    session.info[_BULK] = reason


def _note(session: Session, table: str) -> None:
    if table not in BOOKKEEPING:
        session.info.setdefault(_CHANGED, set()).add(table)


def _table_of(obj: Any) -> str | None:
    table = getattr(obj, "__table__", None)
    return getattr(table, "name", None)


def _note_pending(session: Session) -> None:
    for obj in chain(session.new, session.deleted):
        name = _table_of(obj)
        if name:
            _note(session, name)
    for obj in session.dirty:
        name = _table_of(obj)
        if name and session.is_modified(obj, include_collections=False):
            _note(session, name)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    _note_pending(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name:
        _note(state.session, name)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Objects not flushed yet are flushed by the commit after this hook: count them too.
    _note_pending(session)
    changed: set[str] = session.info.get(_CHANGED) or set()
    if not changed or session.info.get(_AUDITED) or session.info.get(_BULK):
        return
    _reset(session)
    if _mode() == "log":
        log.warning("a commit without an audit record (tables: %s)", ", ".join(sorted(changed)))
        return
    raise MissingAuditRecord(changed)


def _reset(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_AUDITED, None)
    session.info.pop(_BULK, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _reset(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    _reset(session)
