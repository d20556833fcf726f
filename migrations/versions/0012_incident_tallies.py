"""An incident's per-practice money (its claims, late returns and shares), written when its workflow continues
as new, so the next run reads it back a page at a time rather than carrying thousands of entries in its input.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_tally",
        sa.Column("parent_id", sa.String(64), primary_key=True),
        sa.Column("ods", sa.String(12), primary_key=True),
        sa.Column("claimed_pence", sa.BigInteger, nullable=True),
        sa.Column("share_pence", sa.BigInteger, nullable=True),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("position", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("incident_tally")
