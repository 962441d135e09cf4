"""transfers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:05:59.490316
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("to_agency", sa.String(length=6), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("agency", "message_id", name=op.f("uq_outbox_agency_message_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_agency_delivered_at_dead_at_next_attempt_at"),
            ["agency", "delivered_at", "dead_at", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "seen_nonces",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_nonces")),
        sa.UniqueConstraint(
            "agency", "key_id", "nonce", name=op.f("uq_seen_nonces_agency_key_id_nonce")
        ),
    )
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_nonces_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "transfer_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("peer", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_messages")),
        sa.UniqueConstraint(
            "agency", "message_id", name=op.f("uq_transfer_messages_agency_message_id")
        ),
    )
    with op.batch_alter_table("transfer_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_messages_agency_transfer_id_direction_seq"),
            ["agency", "transfer_id", "direction", "seq"],
            unique=False,
        )

    op.create_table(
        "transfers",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("role", sa.String(length=3), nullable=False),
        sa.Column("counterpart", sa.String(length=6), nullable=False),
        sa.Column("agreement", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=True),
        sa.Column("counterpart_state", sa.String(length=20), nullable=True),
        sa.Column("person_id_number", sa.String(length=18), nullable=False),
        sa.Column("person_name", sa.String(length=50), nullable=False),
        sa.Column("person_phone", sa.String(length=20), nullable=True),
        sa.Column("case_no", sa.String(length=20), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_date", sa.Date(), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=True),
        sa.Column("remitted_date", sa.Date(), nullable=True),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=True),
        sa.Column("remitted_fen", sa.BigInteger(), nullable=False),
        sa.Column("remit_reference", sa.String(length=64), nullable=True),
        sa.Column("credited_fen", sa.BigInteger(), nullable=True),
        sa.Column("periods_recorded", sa.Integer(), nullable=True),
        sa.Column("refusal_reasons", sa.JSON(), nullable=False),
        sa.Column("discrepancy", sa.JSON(), nullable=True),
        sa.Column("withdraw_reason", sa.Text(), nullable=True),
        sa.Column("last_seq_sent", sa.Integer(), nullable=False),
        sa.Column("last_seq_applied", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_transfers")),
        sa.UniqueConstraint("agency", "id", name=op.f("uq_transfers_agency_id")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfers_agency_case_no"), ["agency", "case_no"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_agency_state_updated_at"),
            ["agency", "state", "updated_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_agency_state_updated_at"))
        batch_op.drop_index(batch_op.f("ix_transfers_agency_case_no"))

    op.drop_table("transfers")
    with op.batch_alter_table("transfer_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_messages_agency_transfer_id_direction_seq"))

    op.drop_table("transfer_messages")
    with op.batch_alter_table("seen_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_nonces_seen_at"))

    op.drop_table("seen_nonces")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_agency_delivered_at_dead_at_next_attempt_at"))

    op.drop_table("outbox")
