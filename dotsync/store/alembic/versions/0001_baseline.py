"""Baseline: the schema as the old version table left it at version 7.

A new store gets every table, its indexes and the change-stamping triggers, and
``dotsync_meta.schema_version`` = 7 (so an older dotsync opening it sees a version it
knows). A store the old version table had brought to any version 1..7 was already
brought to 7 by :func:`dotsync.store.migrations.migrate` before this runs; for it this
revision creates the tables the old code created on every opening without a version
step (bookkeeping tables that start empty, such as ``source_shipments``), and Alembic
records that the store is on Alembic now.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from dotsync.store import migrations, schema

    conn = op.get_bind()
    if migrations.current_version(conn) is None:
        migrations.create_at_baseline(conn)
    else:
        schema.metadata.create_all(conn, checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("dotsync upgrades only; restore a backup to go back")
