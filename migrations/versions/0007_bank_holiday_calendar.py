"""Versions of the England and Wales bank-holiday calendar (gov.uk's format), newest last.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_holiday_calendar",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(40), nullable=False, index=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("installed_by", sa.String(320), nullable=False),
        sa.Column("calendar", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bank_holiday_calendar")
