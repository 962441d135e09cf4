"""filings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("case_id",),
    ("created_at", "id"),
    ("person_key", "start_date"),
    ("previous_id",),
    ("state", "end_date"),
    ("station_code", "created_at", "id"),
)


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("filing_no", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("previous_id", sa.Uuid(), nullable=True),
        sa.Column("person_id_number", sa.String(length=200), nullable=False),
        sa.Column("person_id_tail", sa.String(length=4), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("person_name", sa.String(length=50), nullable=False),
        sa.Column("person_phone", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=12), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("province_code", sa.String(length=6), nullable=False),
        sa.Column("province_name", sa.String(length=20), nullable=False),
        sa.Column("city_code", sa.String(length=6), nullable=False),
        sa.Column("city_name", sa.String(length=40), nullable=False),
        sa.Column("division_release", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("admission_date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("case_no", sa.String(length=20), nullable=True),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_filings_agency_station_code_stations"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_filings_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["filings.id"], name=op.f("fk_filings_previous_id_filings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filings")),
        sa.UniqueConstraint(
            "agency",
            "created_by",
            "request_key",
            name=op.f("uq_filings_agency_created_by_request_key"),
        ),
        sa.UniqueConstraint("agency", "filing_no", name=op.f("uq_filings_agency_filing_no")),
    )
    with op.batch_alter_table("filings", schema=None) as batch_op:
        for cols in _INDEXES:
            batch_op.create_index(
                batch_op.f("ix_filings_agency_" + "_".join(cols)), ["agency", *cols], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("filings", schema=None) as batch_op:
        for cols in _INDEXES:
            batch_op.drop_index(batch_op.f("ix_filings_agency_" + "_".join(cols)))
    op.drop_table("filings")
