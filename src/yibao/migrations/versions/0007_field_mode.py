"""field mode

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-29 04:36:30.375603
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "field_devices",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_field_devices")),
        sa.UniqueConstraint("agency", "id", name=op.f("uq_field_devices_agency_id")),
    )
    op.create_table(
        "field_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("local_case_no", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("central_case_no", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_queue")),
        sa.UniqueConstraint("client_id", name=op.f("uq_field_queue_client_id")),
    )
    with op.batch_alter_table("field_queue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_field_queue_status_id"), ["status", "id"], unique=False
        )

    op.create_table(
        "field_receipts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("case_no", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_receipts")),
        sa.UniqueConstraint("agency", "client_id", name=op.f("uq_field_receipts_agency_client_id")),
    )
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_field_receipts_agency_status_at"),
            ["agency", "status", "at"],
            unique=False,
        )

    op.create_table(
        "field_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("central_url", sa.String(length=300), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=True),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("key_check", sa.String(length=64), nullable=False),
        sa.Column("device_token", sa.Text(), nullable=False),
        sa.Column("initialised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_state")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column(
            "applicant_id_number",
            existing_type=sa.VARCHAR(length=18),
            type_=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column(
            "applicant_id_number",
            existing_type=sa.String(length=200),
            type_=sa.VARCHAR(length=18),
            existing_nullable=False,
        )

    op.drop_table("field_state")
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_receipts_agency_status_at"))

    op.drop_table("field_receipts")
    with op.batch_alter_table("field_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_queue_status_id"))

    op.drop_table("field_queue")
    op.drop_table("field_devices")
