"""inspections

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("inspection_date", sa.Date(), nullable=False),
        sa.Column("inspectors", sa.JSON(), nullable=False),
        sa.Column("checklist_version", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("area_scores", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_inspections_agency_station_code_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspections_agency_inspection_date_id"),
            ["agency", "inspection_date", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inspections_agency_station_code_inspection_date"),
            ["agency", "station_code", "inspection_date"],
            unique=False,
        )

    op.create_table(
        "inspection_results",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("inspection_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=12), nullable=False),
        sa.Column("item_name_zh", sa.String(length=100), nullable=False),
        sa.Column("item_name_en", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_inspection_results_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_results")),
        sa.UniqueConstraint(
            "inspection_id", "item_code", name=op.f("uq_inspection_results_inspection_id_item_code")
        ),
    )
    op.create_table(
        "inspection_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("inspection_id", sa.Uuid(), nullable=False),
        sa.Column(
            "result_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("owner_name", sa.String(length=50), nullable=True),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=12), nullable=False),
        sa.Column("item_name_zh", sa.String(length=100), nullable=False),
        sa.Column("item_name_en", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("deadline_date", sa.Date(), nullable=False),
        sa.Column("deadline_estimated", sa.Boolean(), nullable=False),
        sa.Column("reported_date", sa.Date(), nullable=True),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("last_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_inspection_tasks_agency_station_code_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_inspection_tasks_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["inspection_results.id"],
            name=op.f("fk_inspection_tasks_result_id_inspection_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_tasks")),
    )
    with op.batch_alter_table("inspection_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_tasks_agency_state_deadline_date"),
            ["agency", "state", "deadline_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inspection_tasks_agency_station_code_state_deadline_date"),
            ["agency", "station_code", "state", "deadline_date"],
            unique=False,
        )

    op.create_table(
        "inspection_task_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["inspection_tasks.id"],
            name=op.f("fk_inspection_task_events_task_id_inspection_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_task_events")),
        sa.UniqueConstraint("task_id", "seq", name=op.f("uq_inspection_task_events_task_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("inspection_task_events")
    with op.batch_alter_table("inspection_tasks", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_inspection_tasks_agency_station_code_state_deadline_date")
        )
        batch_op.drop_index(batch_op.f("ix_inspection_tasks_agency_state_deadline_date"))
    op.drop_table("inspection_tasks")
    op.drop_table("inspection_results")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspections_agency_station_code_inspection_date"))
        batch_op.drop_index(batch_op.f("ix_inspections_agency_inspection_date_id"))
    op.drop_table("inspections")
