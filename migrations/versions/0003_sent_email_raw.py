"""Keep each sent email as the recipient received it, for the console.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.add_column(sa.Column("raw", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.drop_column("raw")
