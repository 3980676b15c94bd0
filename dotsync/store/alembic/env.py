"""Alembic's environment for the staging store.

dotsync runs its revisions itself (:mod:`dotsync.store.revisions`), on a connection
it opened and locked; there is no ``alembic.ini`` and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from dotsync.store import schema
from dotsync.store.revisions import version_schema

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the store's revisions run through `dotsync db upgrade` (or on opening "
                       "the store), which passes the connection")
context.configure(connection=connection, target_metadata=schema.metadata,
                  version_table_schema=version_schema(connection))
with context.begin_transaction():
    context.run_migrations()
