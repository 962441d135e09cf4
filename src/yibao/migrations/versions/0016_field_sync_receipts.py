"""field sync (issue 15): no schema change

An action's receipt now commits in its effect's transaction and a replay answers from it; the
receipts' existing unique key (agency, client_id) is all that needs. The printed L… number is
kept as the case number (cases.case_no is String(20), unique per agency), so no alias table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
