"""Why an email is held and cannot be sent as it is (a header that cannot be written, an address or a
message the mail server refused for good), shown to ops; on a sent email, whom it did not reach.

Rows written before this revision were held only because a send was cut off: no reason.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.add_column(sa.Column("held_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.drop_column("held_reason")
