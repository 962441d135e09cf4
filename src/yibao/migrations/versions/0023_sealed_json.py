"""seal the ID and phone numbers inside transfer messages and the outbox

``transfer_messages.body`` and ``outbox.payload`` carry the person of a transfer (ID number,
name, phone) between the agencies' nodes; from this revision the ID and phone values inside
the JSON are stored sealed like every other ID and phone number (``sealing.types.SealedJSON``).
This seals the values already stored.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# (table, primary key, JSON column) as of this revision.
SEALED_JSON = (("transfer_messages", "id", "body"), ("outbox", "id", "payload"))


def upgrade() -> None:
    bind = op.get_bind()
    if _is_field_laptop(bind):
        return
    from yibao.sealing import crypto
    from yibao.sealing.types import walk_personal

    ring: Any = None
    for table, pk, column in SEALED_JSON:
        t = sa.table(table, sa.column(pk), sa.column(column, sa.JSON))
        last: Any = None
        while True:
            stmt = sa.select(t.c[pk], t.c[column]).order_by(t.c[pk]).limit(BATCH)
            if last is not None:
                stmt = stmt.where(t.c[pk] > last)
            rows = bind.execute(stmt).all()
            if not rows:
                break
            last = rows[-1][0]
            if ring is None:
                ring = _keyring(bind)
            aad = f"{table}.{column}"

            def seal(v: str, aad: str = aad, ring: Any = ring) -> str:
                if crypto.is_sealed(v):
                    return v
                return crypto.seal(v, kid=ring.current, key=ring.current_key, aad=aad)

            updates = []
            for key, doc in rows:
                sealed = walk_personal(doc, seal)
                if sealed != doc:
                    updates.append({"v_pk": key, "v_doc": sealed})
            if updates:
                bind.execute(
                    sa.update(t)
                    .where(t.c[pk] == sa.bindparam("v_pk"))
                    .values({column: sa.bindparam("v_doc", type_=sa.JSON)}),
                    updates,
                )


def downgrade() -> None:
    raise NotImplementedError("sealed values cannot be put back in clear by a migration")


def _keyring(bind: sa.Connection) -> Any:
    from yibao.sealing import keys

    ring = context.config.attributes.get("keyring")
    return ring if ring is not None else keys.for_dialect(bind.dialect)


def _is_field_laptop(bind: sa.Connection) -> bool:
    if not sa.inspect(bind).has_table("field_state"):
        return False
    return int(bind.execute(sa.text("SELECT count(*) FROM field_state")).scalar_one()) > 0
