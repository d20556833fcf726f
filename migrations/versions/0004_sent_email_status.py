"""Each email's delivery status and when its send began, so a send whose ending is unknown is held
rather than repeated.

Rows written before this revision were recorded only once the server had accepted them: `sent`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="sent"))
        batch.add_column(sa.Column("claimed_at", sa.DateTime, nullable=True))
        batch.create_index("ix_sent_email_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.drop_index("ix_sent_email_status")
        batch.drop_column("claimed_at")
        batch.drop_column("status")
