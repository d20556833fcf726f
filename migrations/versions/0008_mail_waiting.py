"""Emails waiting on the mail server: a send that failed for now and is being retried with backoff, so
the console can say that mail is delayed (issue #20). A row goes once its email is sent or held.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_waiting",
        sa.Column("message_id", sa.String(255), primary_key=True),
        sa.Column("escalation_id", sa.String(64), nullable=False, index=True),
        sa.Column("purpose", sa.String(120), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mail_waiting")
