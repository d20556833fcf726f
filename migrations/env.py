"""Alembic environment: runs on the connection `persistence.database.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from persistence import audit_log, incident_practices, practice_returns, sent_mail, users  # noqa: F401  (register the tables)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
