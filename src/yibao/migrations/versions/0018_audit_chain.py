"""the tamper-evident audit chain: seq, prev_hash and hash on every record, heads, checkpoints

Every audit record gets its number in its agency's chain, the hash of the record before it and
its own hash (audit/chain.py); existing records are chained here in id order. audit_heads holds
each agency's last link, audit_checkpoints signed heads, audit_archives exported stretches of the
chain, audit_settings the retention that the database triggers enforce: no record can be changed,
and none removed while younger than the retention or not covered by an archive.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_RETENTION_DAYS = 184
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (name, DDL). Also used by the tests' clean-up, which must drop them on SQLite to empty the
# table between tests (tests/audit/guards.py); the product has no way around them.
SQLITE_TRIGGERS: tuple[tuple[str, str], ...] = (
    (
        "audit_records_no_update",
        "CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records "
        "BEGIN SELECT RAISE(ABORT, 'audit records cannot be changed'); END",
    ),
    (
        "audit_records_retention",
        "CREATE TRIGGER audit_records_retention BEFORE DELETE ON audit_records "
        "WHEN OLD.at > datetime('now', '-' || COALESCE((SELECT retention_days FROM "
        f"audit_settings WHERE id = 1), {DEFAULT_RETENTION_DAYS}) || ' days') "
        "OR NOT EXISTS (SELECT 1 FROM audit_archives a WHERE a.agency = OLD.agency "
        "AND OLD.seq BETWEEN a.from_seq AND a.to_seq) "
        "BEGIN SELECT RAISE(ABORT, 'audit records are kept for the retention period and "
        "removed only once archived'); END",
    ),
    (
        "audit_records_chained",
        "CREATE TRIGGER audit_records_chained BEFORE INSERT ON audit_records "
        "WHEN NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL "
        "BEGIN SELECT RAISE(ABORT, 'audit records must be chained'); END",
    ),
)

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit records cannot be changed';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit records cannot be truncated';
    END IF;
    IF OLD.at > now() - make_interval(days => COALESCE(
            (SELECT retention_days FROM audit_settings WHERE id = 1),
            {DEFAULT_RETENTION_DAYS})) THEN
        RAISE EXCEPTION 'audit record % is younger than the retention period', OLD.seq;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_archives a WHERE a.agency = OLD.agency
                   AND OLD.seq BETWEEN a.from_seq AND a.to_seq) THEN
        RAISE EXCEPTION 'audit record % is not covered by an archive', OLD.seq;
    END IF;
    RETURN OLD;
END
$$
"""
PG_TRIGGERS: tuple[tuple[str, str], ...] = (
    (
        "audit_records_guard",
        "CREATE TRIGGER audit_records_guard BEFORE UPDATE OR DELETE ON audit_records "
        "FOR EACH ROW EXECUTE FUNCTION audit_records_guard()",
    ),
    (
        "audit_records_no_truncate",
        "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_records_guard()",
    ),
)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for column in (
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("result", sa.String(length=12), nullable=False, server_default="ok"),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
    ):
        op.add_column("audit_records", column)
    op.create_table(
        "audit_heads",
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("partner", sa.String(length=6), nullable=True),
        sa.Column("partner_key_id", sa.String(length=64), nullable=True),
        sa.Column("partner_signature", sa.Text(), nullable=True),
        sa.Column("partner_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(
        "ix_audit_checkpoints_agency_seq", "audit_checkpoints", ["agency", "seq"], unique=False
    )
    op.create_table(
        "audit_archives",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agency", sa.String(length=6), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_hash", sa.String(length=64), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_archives")),
    )
    op.create_index(
        "ix_audit_archives_agency_to_seq", "audit_archives", ["agency", "to_seq"], unique=False
    )
    op.create_table(
        "audit_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_settings")),
    )
    bind.execute(
        sa.text("INSERT INTO audit_settings (id, retention_days) VALUES (1, :days)"),
        {"days": DEFAULT_RETENTION_DAYS},
    )
    _chain_existing(bind)
    op.create_index("ix_audit_records_agency_seq", "audit_records", ["agency", "seq"], unique=True)
    if dialect == "postgresql":
        for name in ("seq", "prev_hash", "hash"):
            op.alter_column("audit_records", name, nullable=False)
        op.execute(PG_FUNCTION)
        for _name, ddl in PG_TRIGGERS:
            op.execute(ddl)
    else:  # SQLite cannot add NOT NULL to a column in place; a trigger refuses unchained rows
        for _name, ddl in SQLITE_TRIGGERS:
            op.execute(ddl)


def _chain_existing(bind: sa.Connection) -> None:
    """Number and link the records written before the chain, in id order per agency."""
    from yibao.audit.chain import GENESIS, at_text, canonical_detail, record_hash
    from yibao.db import UTCDateTime, utcnow

    records = sa.table(
        "audit_records",
        sa.column("id", sa.BigInteger()),
        sa.column("agency", sa.String()),
        sa.column("at", UTCDateTime()),
        sa.column("actor_id", sa.BigInteger()),
        sa.column("actor_name", sa.String()),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_id", sa.String()),
        sa.column("ip", sa.String()),
        sa.column("detail", sa.JSON()),
    )
    heads: dict[str, tuple[int, str]] = {}
    pg = bind.dialect.name == "postgresql"
    update = sa.text(
        "UPDATE audit_records SET seq = :seq, prev_hash = :prev, hash = :hash, "
        + ("detail = CAST(:detail AS json) " if pg else "detail = :detail ")
        + "WHERE id = :id"
    )
    batch: list[dict[str, object]] = []
    rows = bind.execute(sa.select(records).order_by(records.c.agency, records.c.id))
    for row in rows.mappings():
        seq, prev = heads.get(row["agency"], (0, GENESIS))
        seq += 1
        detail = row["detail"] if row["detail"] is not None else {}
        fields = {
            "agency": row["agency"],
            "seq": seq,
            "at": at_text(row["at"]),
            "actor_id": row["actor_id"],
            "actor_name": row["actor_name"],
            "role": None,
            "unit": None,
            "action": row["action"],
            "object_type": row["object_type"],
            "object_id": row["object_id"],
            "result": "ok",
            "ip": row["ip"],
            "request_id": None,
            "detail": detail,
            "prev_hash": prev,
        }
        digest = record_hash(fields)
        batch.append(
            {
                "seq": seq,
                "prev": prev,
                "hash": digest,
                "detail": canonical_detail(detail),
                "id": row["id"],
            }
        )
        heads[row["agency"]] = (seq, digest)
    for start in range(0, len(batch), 5000):
        bind.execute(update, batch[start : start + 5000])
    heads_table = sa.table(
        "audit_heads",
        sa.column("agency", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
        sa.column("updated_at", UTCDateTime()),
    )
    if heads:
        bind.execute(
            sa.insert(heads_table),
            [
                {"agency": a, "seq": s, "hash": h, "updated_at": utcnow()}
                for a, (s, h) in heads.items()
            ],
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name, _ddl in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_records")
        op.execute("DROP FUNCTION IF EXISTS audit_records_guard()")
    else:
        for name, _ddl in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_audit_records_agency_seq", table_name="audit_records")
    for table in ("audit_settings", "audit_archives", "audit_checkpoints", "audit_heads"):
        op.drop_table(table)
    with op.batch_alter_table("audit_records") as batch:
        for name in ("hash", "prev_hash", "seq", "request_id", "result", "unit", "role"):
            batch.drop_column(name)
