"""ratings: 好差评 ratings, rectification tasks, follow-ups and the tasks' log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("case_no", sa.String(length=20), nullable=False),
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("handler_name", sa.String(length=64), nullable=False),
        sa.Column("closed_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("overall", sa.SmallInteger(), nullable=False),
        sa.Column("efficiency", sa.SmallInteger(), nullable=False),
        sa.Column("service_level", sa.SmallInteger(), nullable=False),
        sa.Column("attitude", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rated_date", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_ratings_agency_station_code_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_ratings_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("agency", "case_id", name=op.f("uq_ratings_agency_case_id")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ratings_agency_handler_id_closed_date"),
            ["agency", "handler_id", "closed_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_ratings_agency_service_code_closed_date"),
            ["agency", "service_code", "closed_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_ratings_agency_station_code_closed_date"),
            ["agency", "station_code", "closed_date"],
            unique=False,
        )

    op.create_table(
        "rating_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("case_no", sa.String(length=20), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("owner_name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opened_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_estimated", sa.Boolean(), nullable=False),
        sa.Column("follow_ups", sa.Integer(), nullable=False),
        sa.Column("followed_up_date", sa.Date(), nullable=True),
        sa.Column("rectified_date", sa.Date(), nullable=True),
        sa.Column("rectification", sa.Text(), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_rating_tasks_agency_station_code_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_rating_tasks_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name=op.f("fk_rating_tasks_rating_id_ratings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_tasks")),
        sa.UniqueConstraint("agency", "rating_id", name=op.f("uq_rating_tasks_agency_rating_id")),
    )
    with op.batch_alter_table("rating_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rating_tasks_agency_owner_id_state_due_date_id"),
            ["agency", "owner_id", "state", "due_date", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_rating_tasks_agency_state_due_date_id"),
            ["agency", "state", "due_date", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_rating_tasks_agency_station_code_state_due_date_id"),
            ["agency", "station_code", "state", "due_date", "id"],
            unique=False,
        )

    op.create_table(
        "rating_follow_ups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("followed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rating_tasks.id"],
            name=op.f("fk_rating_follow_ups_task_id_rating_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_follow_ups")),
    )
    with op.batch_alter_table("rating_follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rating_follow_ups_task_id_followed_at"),
            ["task_id", "followed_at"],
            unique=False,
        )

    op.create_table(
        "rating_task_events",
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
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rating_tasks.id"],
            name=op.f("fk_rating_task_events_task_id_rating_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_task_events")),
        sa.UniqueConstraint("task_id", "seq", name=op.f("uq_rating_task_events_task_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("rating_task_events")
    op.drop_table("rating_follow_ups")
    with op.batch_alter_table("rating_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rating_tasks_agency_station_code_state_due_date_id"))
        batch_op.drop_index(batch_op.f("ix_rating_tasks_agency_state_due_date_id"))
        batch_op.drop_index(batch_op.f("ix_rating_tasks_agency_owner_id_state_due_date_id"))
    op.drop_table("rating_tasks")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_agency_station_code_closed_date"))
        batch_op.drop_index(batch_op.f("ix_ratings_agency_service_code_closed_date"))
        batch_op.drop_index(batch_op.f("ix_ratings_agency_handler_id_closed_date"))
    op.drop_table("ratings")
