"""station work indexes

Indexes found missing by bench/bench_station_work.py at district scale (100,000 filings,
50,000 ratings): a person's filings, and the joins and period scans behind the rating rates.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index name, columns)
_INDEXES = (
    (
        "filings",
        "ix_filings_agency_person_key_created_at_id",
        ["agency", "person_key", "created_at", "id"],
    ),
    ("filings", "ix_filings_agency_person_key_state", ["agency", "person_key", "state"]),
    ("ratings", "ix_ratings_agency_closed_date", ["agency", "closed_date"]),
    ("rating_tasks", "ix_rating_tasks_rating_id", ["rating_id"]),
)


def upgrade() -> None:
    for table, name, columns in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(name), columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(name))
