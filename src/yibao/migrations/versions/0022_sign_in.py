"""sign-in to 等保 level 3: second factor, recovery codes, policy, back-off

Staff may enrol an authenticator (``user_totp``, the secret sealed at rest) and get one-time
recovery codes; an admin chooses which roles must (``sign_in_policy``). Wrong sign-ins are
counted in ``sign_in_backoffs`` by account name, by account on a known device and by source
address, with growing delays; the per-user lock (``users.failed_attempts`` and
``locked_until``) is gone: it told who exists and let anyone lock a clerk out at will.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_totp",
        sa.Column(
            "user_id", _ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("agency", sa.String(6), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("agency", sa.String(6), nullable=False),
        sa.Column("user_id", _ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", _TS, nullable=True),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    op.create_table(
        "sign_in_policy",
        sa.Column("agency", sa.String(6), primary_key=True),
        sa.Column("mfa_roles", sa.String(200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "sign_in_backoffs",
        sa.Column("agency", sa.String(6), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _TS, nullable=False),
        sa.Column("blocked_until", _TS, nullable=True),
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("failed_attempts")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", _TS, nullable=True))
    op.drop_table("sign_in_backoffs")
    op.drop_table("sign_in_policy")
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("user_totp")
