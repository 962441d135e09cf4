"""visits (issues 10, 15): no schema change

A visit's ``done`` state, its log and audit records already hold what issues 10 and 15 need:
stale villages count visits in ``done``, and the lists of past visits still planned and of
visits on a day off are queries over ``visits`` with the calendar. The revision stays in the
chain, empty, so the chain is the same on every node.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
