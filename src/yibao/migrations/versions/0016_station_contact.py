"""station contact details: opening hours and phone (issue 10)

The citizen's case page says where to go and whom to call, so a station carries its opening
hours (free text; a mobile station's is its visit schedule) and a phone number.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("opening_hours", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("phone")
        batch.drop_column("opening_hours")
