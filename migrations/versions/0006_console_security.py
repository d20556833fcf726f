"""Console security: server-side sessions, the security log (append-only), sign-in throttle counters
for `limits`, and withdrawn links.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("ended_reason", sa.String(40), nullable=True),
    )
    op.create_table(
        "security_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", WHEN, nullable=False, index=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("email", sa.String(320), nullable=True, index=True),
        sa.Column("by", sa.String(320), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "revoked_link",
        sa.Column("escalation_id", sa.String(64), primary_key=True),
        sa.Column("recipient", sa.String(320), primary_key=True),
        sa.Column("revoked_at", WHEN, nullable=False),
        sa.Column("revoked_by", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("contact_instead", sa.String(320), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION security_event_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'security_event is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER security_event_append_only BEFORE UPDATE OR DELETE ON security_event "
            "FOR EACH ROW EXECUTE FUNCTION security_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER security_event_no_truncate BEFORE TRUNCATE ON security_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION security_event_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER security_event_no_{verb.lower()} BEFORE {verb} ON security_event "
                "BEGIN SELECT RAISE(ABORT, 'security_event is append-only'); END"
            )


def downgrade() -> None:
    """Only for stepping back through migrations (tests do); the security log goes with its tables."""
    op.drop_table("revoked_link")
    op.drop_table("rate_limit_counter")
    op.drop_table("console_session")
    op.drop_table("security_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS security_event_append_only()")
