"""questionnaires

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "questionnaire_templates",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_templates")),
        sa.UniqueConstraint("agency", "code", name=op.f("uq_questionnaire_templates_agency_code")),
    )
    op.create_table(
        "questionnaire_versions",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("template_id", _BIGINT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["questionnaire_templates.id"],
            name=op.f("fk_questionnaire_versions_template_id_questionnaire_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_versions")),
        sa.UniqueConstraint(
            "template_id", "version", name=op.f("uq_questionnaire_versions_template_id_version")
        ),
    )
    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("template_id", _BIGINT, nullable=False),
        sa.Column("version_id", _BIGINT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("station_code", sa.String(length=16), nullable=True),
        sa.Column("town_code", sa.String(length=12), nullable=True),
        sa.Column("town_release", sa.String(length=10), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("case_no", sa.String(length=20), nullable=True),
        sa.Column("taken_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_date", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["questionnaire_templates.id"],
            name=op.f("fk_questionnaire_responses_template_id_questionnaire_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["questionnaire_versions.id"],
            name=op.f("fk_questionnaire_responses_version_id_questionnaire_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
    )
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_responses_agency_version_id_answered_at"),
            ["agency", "version_id", "answered_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_qresp_agency_version_station_date",
            ["agency", "version_id", "station_code", "answered_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_qresp_agency_version_town_date",
            ["agency", "version_id", "town_code", "answered_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_questionnaire_responses_agency_case_no"),
            ["agency", "case_no"],
            unique=False,
        )
    op.create_table(
        "questionnaire_answers",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=32), nullable=False),
        sa.Column("choice", sa.String(length=32), nullable=True),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["questionnaire_responses.id"],
            name=op.f("fk_questionnaire_answers_response_id_questionnaire_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_answers")),
    )
    with op.batch_alter_table("questionnaire_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_answers_response_id"), ["response_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_questionnaire_answers_agency_version_id_question"),
            ["agency", "version_id", "question"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("questionnaire_answers")
    op.drop_table("questionnaire_responses")
    op.drop_table("questionnaire_versions")
    op.drop_table("questionnaire_templates")
