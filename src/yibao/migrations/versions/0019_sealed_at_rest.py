"""personal data sealed at rest: ID and phone numbers encrypted, keyed blind index (issue 13)

Widens every column holding an ID number or a phone number to fit ciphertext, adds the keyed
blind index of cases (``applicant_id_key``, indexed with the agency), turns the unkeyed
``filings.person_key`` digest into the keyed HMAC, and seals the existing rows in batches with
the node's current data key (yibao.sealing.keys: YIBAO_DATA_KEY, YIBAO_DATA_KEY_FILE, or the
key file in the data directory). A field laptop's database is left as it is: its rows are
sealed with the laptop key as they are written.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

WIDEN = (
    ("cases", "applicant_phone", 20, False),
    ("filings", "person_phone", 20, False),
    ("transfers", "person_id_number", 18, False),
    ("transfers", "person_phone", 20, True),
    ("leads", "patient_id_number", 18, True),
    ("dispute_representatives", "phone", 20, True),
)

# (table, primary key, sealed columns) as of this revision.
SEALED = (
    ("cases", "id", ("applicant_id_number", "applicant_phone")),
    ("filings", "id", ("person_id_number", "person_phone")),
    ("transfers", "pk", ("person_id_number", "person_phone")),
    ("leads", "id", ("patient_id_number",)),
    ("dispute_representatives", "id", ("phone",)),
)


def upgrade() -> None:
    for table, column, length, nullable in WIDEN:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=sa.String(length=length),
                type_=sa.String(length=200),
                existing_nullable=nullable,
            )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("applicant_id_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_cases_agency_applicant_id_key", ["agency", "applicant_id_key"])
    _seal_existing()


def downgrade() -> None:
    raise NotImplementedError("sealed values cannot be put back in clear by a migration")


def _seal_existing() -> None:
    bind = op.get_bind()
    if _is_field_laptop(bind):
        return
    ring: Any = None
    for table, pk, columns in SEALED:
        extra = _extra_columns(table)
        full = sa.table(table, sa.column(pk), *(sa.column(c) for c in (*columns, *extra)))
        last: Any = None
        while True:
            stmt = sa.select(*full.c).order_by(full.c[pk]).limit(BATCH)
            if last is not None:
                stmt = stmt.where(full.c[pk] > last)
            rows = bind.execute(stmt).mappings().all()
            if not rows:
                break
            last = rows[-1][pk]
            if ring is None:
                ring = _keyring(bind)
            updates = [u for u in (_sealed_row(ring, table, pk, columns, r) for r in rows) if u]
            if updates:
                values: dict[str, Any] = {c: sa.bindparam(f"v_{c}") for c in (*columns, *extra)}
                stmt_u = sa.update(full).where(full.c[pk] == sa.bindparam("v_pk"))
                bind.execute(stmt_u.values(values), updates)


def _extra_columns(table: str) -> tuple[str, ...]:
    if table == "cases":
        return ("applicant_id_key",)
    if table == "filings":
        return ("agency", "person_key")
    return ()


def _sealed_row(
    ring: Any, table: str, pk: str, columns: tuple[str, ...], row: Any
) -> dict[str, Any] | None:
    from yibao.sealing import blind, crypto

    changed = False
    out: dict[str, Any] = {"v_pk": row[pk]}
    for c in _extra_columns(table):
        out[f"v_{c}"] = row[c]
    for c in columns:
        value = row[c]
        out[f"v_{c}"] = value
        if value is None or crypto.is_sealed(value):
            continue
        out[f"v_{c}"] = crypto.seal(
            value, kid=ring.current, key=ring.current_key, aad=f"{table}.{c}"
        )
        changed = True
        if table == "cases" and c == "applicant_id_number" and _full_id(value):
            out["v_applicant_id_key"] = blind.index(ring.index_key, value)
        if table == "filings" and c == "person_id_number":
            out["v_person_key"] = blind.index(
                ring.index_key, blind.person_input(row["agency"], value)
            )
    return out if changed else None


def _full_id(value: str) -> bool:
    return len(value) == 18 and value[:17].isdigit() and (value[17].isdigit() or value[17] in "xX")


def _keyring(bind: sa.Connection) -> Any:
    from yibao.sealing import keys

    ring = context.config.attributes.get("keyring")
    return ring if ring is not None else keys.for_dialect(bind.dialect)


def _is_field_laptop(bind: sa.Connection) -> bool:
    if not sa.inspect(bind).has_table("field_state"):
        return False
    return int(bind.execute(sa.text("SELECT count(*) FROM field_state")).scalar_one()) > 0
