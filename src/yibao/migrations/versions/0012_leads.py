"""leads

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("hospital", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("patient_id_number", sa.String(length=18), nullable=True),
        sa.Column("patient_id_tail", sa.String(length=4), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("actions_taken", sa.Text(), nullable=True),
        sa.Column("amount_recovered_fen", sa.BigInteger(), nullable=True),
        sa.Column("raised_by", sa.Integer(), nullable=False),
        sa.Column("raised_by_name", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_estimated", sa.Boolean(), nullable=False),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_leads_agency_station_code_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leads_agency_raised_at_id"), ["agency", "raised_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_agency_raised_by_raised_at_id"),
            ["agency", "raised_by", "raised_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_agency_state_due_date"),
            ["agency", "state", "due_date"],
            unique=False,
        )

    op.create_table(
        "lead_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_events_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
        sa.UniqueConstraint("lead_id", "seq", name=op.f("uq_lead_events_lead_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("lead_events")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_agency_state_due_date"))
        batch_op.drop_index(batch_op.f("ix_leads_agency_raised_by_raised_at_id"))
        batch_op.drop_index(batch_op.f("ix_leads_agency_raised_at_id"))

    op.drop_table("leads")
