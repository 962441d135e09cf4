"""visits

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 04:40:05.312919
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "villages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("town_release", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("travel_minutes", sa.Integer(), nullable=True),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "town_code", "town_release"],
            ["towns.agency", "towns.code", "towns.release"],
            name=op.f("fk_villages_agency_town_code_town_release_towns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_villages")),
        sa.UniqueConstraint(
            "agency",
            "town_code",
            "town_release",
            "name",
            name=op.f("uq_villages_agency_town_code_town_release_name"),
        ),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=False),
        sa.Column("town_release", sa.String(length=10), nullable=False),
        sa.Column("village", sa.String(length=50), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency", "station_code"],
            ["stations.agency", "stations.code"],
            name=op.f("fk_visits_agency_station_code_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["agency", "town_code", "town_release"],
            ["towns.agency", "towns.code", "towns.release"],
            name=op.f("fk_visits_agency_town_code_town_release_towns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visits_agency_station_code_visit_date"),
            ["agency", "station_code", "visit_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_visits_agency_town_code_village_visit_date"),
            ["agency", "town_code", "village", "visit_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_visits_agency_visit_date_station_code"),
            ["agency", "visit_date", "station_code"],
            unique=False,
        )

    op.create_table(
        "visit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_events_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_events")),
        sa.UniqueConstraint("visit_id", "seq", name=op.f("uq_visit_events_visit_id_seq")),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would rebuild ``cases`` to add the foreign key, and dropping the old table
        # cascades into case_events; SQLite adds a nullable column with its reference in place.
        op.execute("ALTER TABLE cases ADD COLUMN visit_id CHAR(32) REFERENCES visits (id)")
    else:
        op.add_column("cases", sa.Column("visit_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_cases_visit_id_visits"), "cases", "visits", ["visit_id"], ["id"]
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cases_agency_visit_id"), ["agency", "visit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_agency_visit_id"))
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("cases", schema=None) as batch_op:
            batch_op.drop_column("visit_id")
    else:
        op.drop_constraint(op.f("fk_cases_visit_id_visits"), "cases", type_="foreignkey")
        op.drop_column("cases", "visit_id")

    op.drop_table("visit_events")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_agency_visit_date_station_code"))
        batch_op.drop_index(batch_op.f("ix_visits_agency_town_code_village_visit_date"))
        batch_op.drop_index(batch_op.f("ix_visits_agency_station_code_visit_date"))

    op.drop_table("visits")
    op.drop_table("villages")
