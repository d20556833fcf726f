"""The audit log (append-only), the sent-mail ledger and practices' returns.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())  # databases made before migrations existed
    if "audit_record" not in existing:
        op.create_table(
            "audit_record",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("escalation_id", sa.String(64), nullable=False, index=True),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("occurred_at", sa.DateTime, nullable=False),
            sa.Column("event", sa.String(80), nullable=False),
            sa.Column("actor", sa.String(320), nullable=False),
            sa.Column("detail", sa.JSON, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("recorded_at", sa.DateTime, nullable=False),
            sa.UniqueConstraint("escalation_id", "seq", name="uq_audit_escalation_seq"),
        )
    if "sent_email" not in existing:
        op.create_table(
            "sent_email",
            sa.Column("message_id", sa.String(255), primary_key=True),
            sa.Column("escalation_id", sa.String(64), nullable=False, index=True),
            sa.Column("purpose", sa.String(120), nullable=False),
            sa.Column("recipient", sa.String(320), nullable=False),
            sa.Column("subject", sa.String(500), nullable=False),
            sa.Column("sent_at", sa.DateTime, nullable=False),
        )
    if "practice_return" not in existing:
        op.create_table(
            "practice_return",
            sa.Column("parent_id", sa.String(64), primary_key=True),
            sa.Column("ods", sa.String(6), primary_key=True),
            sa.Column("record", sa.JSON, nullable=False),
            sa.Column("late", sa.Boolean, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_record is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
            "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_record_no_{verb.lower()} BEFORE {verb} ON audit_record "
                "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("the audit log is not dropped by a migration")
