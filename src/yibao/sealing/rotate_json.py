"""Key rotation of the personal values inside sealed JSON documents (``columns.SEALED_JSON``).

The values sit inside JSON, so which rows still hold a value under another key is decided row
by row in Python rather than by a WHERE clause; a batch is one transaction with its
``keys.rotate`` record, and a run killed at any moment simply scans again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.db import Database
from yibao.sealing import crypto
from yibao.sealing.columns import SEALED_JSON, SealedTable
from yibao.sealing.keys import Keyring
from yibao.sealing.types import walk_personal

FIELD_PREFIXES = (crypto.FIELD_PREFIX, f"{crypto.PREFIX}field:")


@cache
def _table(t: SealedTable) -> sa.TableClause:
    return sa.table(t.name, sa.column(t.pk), *(sa.column(c, sa.JSON) for c in t.columns))


def _values(doc: Any) -> list[str]:
    found: list[str] = []

    def keep(v: str) -> str:
        found.append(v)
        return v

    walk_personal(doc, keep)
    return found


def _stale(value: str, current: str) -> bool:
    return not value.startswith(FIELD_PREFIXES) and crypto.kid_of(value) != current


def _rows(session: Session, t: SealedTable, after: Any, limit: int) -> list[Any]:
    table = _table(t)
    stmt = sa.select(*table.c).order_by(table.c[t.pk]).limit(limit)
    if after is not None:
        stmt = stmt.where(table.c[t.pk] > after)
    return list(session.execute(stmt).mappings().all())


def pending(session: Session, current: str) -> dict[str, int]:
    """Rows per table holding a personal value not under ``current``."""
    out: dict[str, int] = {}
    for t in SEALED_JSON:
        n, after = 0, None
        while rows := _rows(session, t, after, 2000):
            after = rows[-1][t.pk]
            n += sum(
                1 for r in rows if any(_stale(v, current) for c in t.columns for v in _values(r[c]))
            )
        if n:
            out[t.name] = n
    return out


def under(session: Session, kid: str) -> int:
    """How many personal values inside the documents are sealed under ``kid``."""
    total = 0
    for t in SEALED_JSON:
        after = None
        while rows := _rows(session, t, after, 2000):
            after = rows[-1][t.pk]
            total += sum(
                1 for r in rows for c in t.columns for v in _values(r[c]) if crypto.kid_of(v) == kid
            )
    return total


def run(
    db: Database,
    ring: Keyring,
    *,
    agency: str,
    reseal: Callable[[str, Keyring, str], str],
    actor: str,
    batch: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-seal every stale value; returns the rows changed."""
    changed_rows = 0
    for t in SEALED_JSON:
        after: Any = None
        while True:
            with db.uow() as uow:
                session = uow.session
                rows = _rows(session, t, after, batch)
                if not rows:
                    break
                after = rows[-1][t.pk]
                updates = []
                for r in rows:
                    upd: dict[str, Any] = {"v_pk": r[t.pk]}
                    dirty = False
                    for c in t.columns:
                        aad = f"{t.name}.{c}"

                        def fresh(v: str, aad: str = aad) -> str:
                            return reseal(v, ring, aad) if _stale(v, ring.current) else v

                        doc = walk_personal(r[c], fresh)
                        dirty = dirty or doc != r[c]
                        upd[f"v_{c}"] = doc
                    if dirty:
                        updates.append(upd)
                if updates:
                    table = _table(t)
                    session.execute(
                        sa.update(table)
                        .where(table.c[t.pk] == sa.bindparam("v_pk"))
                        .values({c: sa.bindparam(f"v_{c}", type_=sa.JSON) for c in t.columns}),
                        updates,
                    )
                    audit.record(
                        session,
                        agency=agency,
                        actor_id=None,
                        actor_name=actor,
                        action="keys.rotate",
                        object_type="data_key",
                        object_id=ring.current,
                        detail={"table": t.name, "rows": len(updates)},
                    )
                uow.commit()
            changed_rows += len(updates)
            if on_batch is not None and updates:
                on_batch(len(updates))
    return changed_rows
