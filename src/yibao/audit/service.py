"""Writing audit records inside the caller's transaction, chained as they are flushed.

``record`` only adds a row to the session. When the session flushes, a ``before_flush`` hook
takes the agency's chain head (one upsert that creates and row-locks it), numbers the new rows
consecutively, links them to the head, and moves the head (one UPDATE) — all in the caller's
transaction, so the head is held for the shortest time and a rolled-back change leaves no number
used. Concurrent writers queue on the head row (PostgreSQL) or on the database's write lock
(SQLite, where writing units of work begin with BEGIN IMMEDIATE).

A read session on SQLite begins deferred; if its snapshot is stale by the time it writes (another
writer committed meanwhile) SQLite refuses the write. Its audit rows are then written through
a short writing transaction of their own, so a full read is never lost or half-recorded.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, event, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, UOWTransaction

from yibao.accounts.rules import Actor
from yibao.audit import context, guard
from yibao.audit.chain import GENESIS, RESULTS, at_text, canonical_detail, record_hash
from yibao.audit.models import AuditRecord
from yibao.db import UTCDateTime, utcnow

log = logging.getLogger("yibao.audit")
_order = itertools.count()
_ORDER_ATTR = "_yibao_audit_order"


def _clip(value: str | None, width: int) -> str | None:
    return None if value is None else value[:width]


def record(
    session: Session,
    *,
    agency: str,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    role: str | None = None,
    unit: str | None = None,
    result: str = "ok",
    request_id: str | None = None,
) -> None:
    """Add an audit record to the current transaction (it commits with the change it records).

    Role, unit, request id and address not given come from the running request
    (``audit.context``).
    """
    if result not in RESULTS:
        raise ValueError(f"audit result must be one of {RESULTS}, not {result!r}")
    ctx = context.current()
    row = AuditRecord(
        agency=agency,
        at=utcnow(),
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=_clip(ip if ip is not None else ctx.ip, 45),
        # What is stored is what is hashed: the detail as it comes back from JSON.
        detail=_normalised(detail),
        role=_clip(role if role is not None else ctx.role, 20),
        unit=_clip(unit if unit is not None else ctx.unit, 20),
        result=result,
        request_id=_clip(request_id if request_id is not None else ctx.request_id, 64),
    )
    setattr(row, _ORDER_ATTR, next(_order))
    session.add(row)
    guard.audited(session)


def record_actor(
    session: Session,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
    result: str = "ok",
) -> None:
    """:func:`record` for a signed-in actor (their id, name, role, unit, agency and address)."""
    record(
        session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=actor.ip,
        detail=detail,
        role=actor.role.value,
        unit=actor.unit,
        result=result,
    )


def _normalised(detail: dict[str, Any] | None) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(canonical_detail(detail or {}))
    return value


# ---------------------------------------------------------------- the chain head


def lock_head(conn: Connection, agency: str, now: datetime | None = None) -> tuple[int, str]:
    """The agency's head (seq, hash), created if missing and locked until the transaction ends.

    One statement: an upsert that touches the row takes its lock on PostgreSQL and needs the
    write lock on SQLite, and two first writers cannot both create it.
    """
    row = conn.execute(
        text(
            "INSERT INTO audit_heads (agency, seq, hash, updated_at) "
            "VALUES (:agency, 0, :genesis, :now) "
            "ON CONFLICT (agency) DO UPDATE SET updated_at = excluded.updated_at "
            "RETURNING seq, hash"
        ).bindparams(bindparam("now", type_=UTCDateTime())),
        {"agency": agency, "genesis": GENESIS, "now": now or utcnow()},
    ).one()
    return int(row[0]), str(row[1])


def _move_head(conn: Connection, agency: str, seq: int, hash_: str) -> None:
    conn.execute(
        text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE agency = :agency"),
        {"seq": seq, "hash": hash_, "agency": agency},
    )


def _fields(row: AuditRecord) -> dict[str, Any]:
    return {
        "agency": row.agency,
        "at": at_text(row.at),
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "role": row.role,
        "unit": row.unit,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "result": row.result,
        "ip": row.ip,
        "request_id": row.request_id,
        "detail": row.detail,
    }


def _prepare(row: AuditRecord) -> None:
    if row.at is None:
        row.at = utcnow()
    if row.result is None:
        row.result = "ok"
    if row.detail is None:
        row.detail = {}


def chain_rows(conn: Connection, rows: list[AuditRecord]) -> None:
    """Number and link ``rows`` (one agency's, in order) after the head; move the head."""
    agency = rows[0].agency
    seq, prev = lock_head(conn, agency)
    for row in rows:
        seq += 1
        fields = _fields(row)
        fields.update(seq=seq, prev_hash=prev)
        row.seq, row.prev_hash = seq, prev
        row.hash = prev = record_hash(fields)
    _move_head(conn, agency, seq, prev)


def _pending(session: Session) -> dict[str, list[AuditRecord]]:
    by_agency: dict[str, list[AuditRecord]] = defaultdict(list)
    for obj in session.new:
        if isinstance(obj, AuditRecord) and obj.seq is None:
            _prepare(obj)
            by_agency[obj.agency].append(obj)
    for rows in by_agency.values():
        rows.sort(key=lambda r: (r.at, getattr(r, _ORDER_ATTR, 0)))
    return by_agency


def _holds_writer(conn: Connection) -> bool:
    return conn.dialect.name != "sqlite" or bool(conn.info.get("holds_writer"))


@event.listens_for(Session, "before_flush")
def _chain_before_flush(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    pending = _pending(session)
    if not pending:
        return
    conn = session.connection()
    for agency in sorted(pending):  # a fixed order: two agencies' heads never deadlock
        rows = pending[agency]
        if _holds_writer(conn):
            chain_rows(conn, rows)
            continue
        try:
            chain_rows(conn, rows)
        except OperationalError:
            # SQLite read session whose snapshot is stale: write these rows on their own.
            log.info("audit: writing %d record(s) of a read session separately", len(rows))
            _write_apart(session, rows)


def _write_apart(session: Session, rows: list[AuditRecord]) -> None:
    for row in rows:
        row.seq = None  # type: ignore[assignment]
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    writer = engine.execution_options(sqlite_immediate=True)
    table = AuditRecord.__table__
    assert isinstance(table, Table)
    with writer.connect() as conn, conn.begin():
        chain_rows(conn, rows)
        values = [
            {c.key: getattr(row, c.key) for c in table.columns if c.key != "id"} for row in rows
        ]
        conn.execute(insert(table), values)
    for row in rows:
        session.expunge(row)
