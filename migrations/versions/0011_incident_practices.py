"""An incident's practice list, stored once (not in Temporal payloads); cohorts read it in chunks.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_practice",
        sa.Column("parent_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ods", sa.String(12), nullable=False, index=True),
        sa.Column("practice", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_practice")
