"""audit search indexes

The auditor's workspace walks audit_records newest first (by id) under filters by actor,
action (a prefix), time and object. Each common filter gets an index that ends in id, so a
page is an index range scan of 51 entries even with millions of records: unfiltered (agency,
id: without it SQLite sorts the agency's whole trail for the first page), by actor id, by actor
name (records written without a user: the public, the system), by action (on PostgreSQL with
varchar_pattern_ops, so that ``LIKE 'case.%'`` uses it whatever the database's collation) and
by time. The object filter uses the existing (agency, object_type, object_id) index.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index name, columns, PostgreSQL operator classes)
_INDEXES: tuple[tuple[str, list[str], dict[str, str]], ...] = (
    ("ix_audit_records_agency_id", ["agency", "id"], {}),
    ("ix_audit_records_agency_actor_id_id", ["agency", "actor_id", "id"], {}),
    ("ix_audit_records_agency_actor_name_id", ["agency", "actor_name", "id"], {}),
    (
        "ix_audit_records_agency_action_id",
        ["agency", "action", "id"],
        {"action": "varchar_pattern_ops"},
    ),
    ("ix_audit_records_agency_at", ["agency", "at"], {}),
)


def upgrade() -> None:
    for name, columns, ops in _INDEXES:
        op.create_index(name, "audit_records", columns, unique=False, postgresql_ops=ops)


def downgrade() -> None:
    for name, _columns, _ops in reversed(_INDEXES):
        op.drop_index(name, table_name="audit_records")
