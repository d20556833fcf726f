"""An LMC's practices (from the ODS GP practice file, with the contact email the LMC adds), and the
interface alerts they report: the index the practice's page, the officer's pattern view and the
analysis read, beside each alert's own escalation in Temporal.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lmc_practice",
        sa.Column("ods", sa.String(6), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(600), nullable=False, server_default=""),
        sa.Column("icb", sa.String(12), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("loaded_at", WHEN, nullable=False),
        sa.Column("link_sent_at", WHEN, nullable=True),
        sa.Column("link_sent_to", sa.String(320), nullable=True),
        sa.Column("link_generation", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "practice_alert",
        sa.Column("reference", sa.String(64), primary_key=True),
        sa.Column("ods", sa.String(6), nullable=False, index=True),
        sa.Column("provider", sa.String(12), nullable=False, index=True),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False, index=True),
        sa.Column("document_ref", sa.String(200), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("staff_minutes", sa.Integer, nullable=False),
        sa.Column("risk", sa.String(10), nullable=False),
        sa.Column("reported_at", WHEN, nullable=False),
        sa.Column("claim_ref", sa.String(64), nullable=True, index=True),
    )


def downgrade() -> None:
    op.drop_table("practice_alert")
    op.drop_table("lmc_practice")
