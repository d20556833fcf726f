"""LMC-ICB liaison meetings: each record of a meeting and its outcomes and commitments, append-only.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("liaison_meeting_record", "liaison_meeting_outcome")


def upgrade() -> None:
    op.create_table(
        "liaison_meeting_record",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.String(64), nullable=False, unique=True),
        sa.Column("payer_code", sa.String(12), nullable=False, index=True),
        sa.Column("meeting_date", sa.Date, nullable=False, index=True),
        sa.Column("recorded_by", sa.String(320), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "liaison_meeting_outcome",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("liaison_meeting_record.id"), nullable=False, index=True),
        sa.Column("item", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(2000), nullable=False),
        sa.Column("commitment", sa.String(200), nullable=True),
        sa.Column("contact_email", sa.String(320), nullable=True),
        sa.Column("due", sa.Date, nullable=True),
        sa.Column("commitment_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("commitment_id", name="uq_liaison_commitment_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION liaison_meeting_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'liaison meeting records are append-only'; END $$ LANGUAGE plpgsql"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION liaison_meeting_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION liaison_meeting_append_only()"
            )
    else:
        for table in TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'liaison meeting records are append-only'); END"
                )


def downgrade() -> None:
    op.drop_table("liaison_meeting_outcome")
    op.drop_table("liaison_meeting_record")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS liaison_meeting_append_only()")
