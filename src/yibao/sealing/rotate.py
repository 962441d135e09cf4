"""Key rotation: re-seal every value not under the current data key, batch by batch.

Each batch is one transaction with its ``keys.rotate`` audit record, so a rotation killed at
any moment (``kill -9``) loses nothing: run it again and it carries on with the rows that are
not yet under the current key. The blind-index key does not change, so digests stay valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from yibao.audit import service as audit
from yibao.db import Database
from yibao.sealing import crypto, keys, rotate_json
from yibao.sealing.columns import SEALED, SealedTable
from yibao.sealing.keys import Keyring

ACTOR = "yibao keys rotate"
FIELD_PREFIXES = (crypto.FIELD_PREFIX, f"{crypto.PREFIX}field:")


class RotateError(RuntimeError):
    """A value that no loaded key opens: rotation stops rather than lose it."""


@dataclass(frozen=True)
class Outcome:
    """What one run did."""

    current: str
    resealed: int
    batches: int
    finished: bool  # nothing left under another key
    retired: tuple[str, ...] = ()


@cache
def _table(t: SealedTable) -> sa.TableClause:
    return sa.table(t.name, sa.column(t.pk), *(sa.column(c) for c in t.columns))


def _needs(col: sa.ColumnClause[Any], current: str) -> sa.ColumnElement[bool]:
    prefix = f"{crypto.PREFIX}{current}:"
    conds = [sa.func.substr(col, 1, len(prefix)) != prefix]
    conds += [sa.func.substr(col, 1, len(p)) != p for p in FIELD_PREFIXES]
    return sa.and_(col.is_not(None), *conds)


def _pending(t: SealedTable, current: str) -> sa.ColumnElement[bool]:
    table = _table(t)
    return sa.or_(*(_needs(table.c[c], current) for c in t.columns))


def pending(session: Session, current: str) -> dict[str, int]:
    """Rows per table with a value not under ``current``."""
    out: dict[str, int] = {}
    for t in SEALED:
        table = _table(t)
        n = session.execute(
            sa.select(sa.func.count()).select_from(table).where(_pending(t, current))
        ).scalar_one()
        if n:
            out[t.name] = int(n)
    out.update(rotate_json.pending(session, current))
    return out


def under(session: Session, kid: str) -> int:
    """How many stored values are sealed under ``kid``."""
    prefix = f"{crypto.PREFIX}{kid}:"
    total = 0
    for t in SEALED:
        table = _table(t)
        for c in t.columns:
            col = table.c[c]
            total += int(
                session.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(sa.func.substr(col, 1, len(prefix)) == prefix)
                ).scalar_one()
            )
    return total + rotate_json.under(session, kid)


def reseal(value: str, ring: Keyring, aad: str) -> str:
    """``value`` (plain or sealed under any loaded key) sealed under the current key."""
    if crypto.is_sealed(value):
        kid = crypto.kid_of(value) or "?"
        candidates = keys.keys_for(kid)
        if not candidates:
            raise RotateError(f"a value is sealed under key id {kid!r}, which is not loaded")
        try:
            value = crypto.open_with(value, candidates, aad=aad)
        except crypto.SealError as exc:
            raise RotateError(f"{aad}: {exc}") from None
    return crypto.seal(value, kid=ring.current, key=ring.current_key, aad=aad)


def run(
    db: Database,
    ring: Keyring,
    *,
    agency: str,
    batch: int = 500,
    on_batch: Callable[[int], None] | None = None,
    stop_after: int | None = None,
) -> tuple[int, int]:
    """Re-seal, batch by batch; returns (values re-sealed, batches). ``stop_after``: tests."""
    keys.register(ring)
    resealed = batches = 0
    for t in SEALED:
        table = _table(t)
        while True:
            if stop_after is not None and batches >= stop_after:
                return resealed, batches
            with db.uow() as uow:
                session = uow.session
                rows = (
                    session.execute(
                        sa.select(*table.c)
                        .where(_pending(t, ring.current))
                        .order_by(table.c[t.pk])
                        .limit(batch)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    break
                updates = []
                for r in rows:
                    upd: dict[str, Any] = {"v_pk": r[t.pk]}
                    for c in t.columns:
                        value = r[c]
                        if value is not None and not value.startswith(FIELD_PREFIXES):
                            value = reseal(value, ring, f"{t.name}.{c}")
                        upd[f"v_{c}"] = value
                    updates.append(upd)
                stmt = (
                    sa.update(table)
                    .where(table.c[t.pk] == sa.bindparam("v_pk"))
                    .values({c: sa.bindparam(f"v_{c}") for c in t.columns})
                )
                session.execute(stmt, updates)
                audit.record(
                    session,
                    agency=agency,
                    actor_id=None,
                    actor_name=ACTOR,
                    action="keys.rotate",
                    object_type="data_key",
                    object_id=ring.current,
                    detail={"table": t.name, "rows": len(rows)},
                )
                uow.commit()
            resealed += len(rows)
            batches += 1
            if on_batch is not None:
                on_batch(len(rows))
    resealed += rotate_json.run(
        db, ring, agency=agency, reseal=reseal, actor=ACTOR, batch=batch, on_batch=on_batch
    )
    return resealed, batches


def begin_file_rotation(ring: Keyring) -> Keyring:
    """A new current key in the key file (or the rotation already under way there)."""
    if ring.file is None:
        raise ValueError("keys do not come from a key file")
    fresh = keys.read_file(ring.file)
    if fresh.rotation:
        keys.remember(fresh)
        return fresh
    kid = keys.new_kid(set(fresh.keys))
    new = replace(
        fresh,
        current=kid,
        keys={kid: keys.new_key(), **fresh.keys},
        rotation={
            "from": sorted(fresh.keys),
            "to": kid,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    keys.write_file(ring.file, new)
    keys.remember(new)
    return new


def finish_file_rotation(ring: Keyring, *, retire: bool) -> tuple[Keyring, tuple[str, ...]]:
    """Mark the rotation done in the key file; with ``retire`` drop every other data key."""
    if ring.file is None:
        raise ValueError("keys do not come from a key file")
    fresh = keys.read_file(ring.file)
    old = tuple(sorted(k for k in fresh.keys if k != fresh.current))
    kept = {fresh.current: fresh.keys[fresh.current]} if retire else fresh.keys
    new = replace(fresh, keys=kept, rotation=None)
    keys.write_file(ring.file, new)
    keys.remember(new)
    return new, old
