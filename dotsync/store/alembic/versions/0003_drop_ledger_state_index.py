"""Drop the ledger's (entity, state) index: (entity, state, key) answers every query it
did.

Every ledger write (a backfill writes each customer, contact and order at least once)
kept both b-trees up to date; the shorter one is a prefix of the other, so SQLite and
PostgreSQL can read any ``entity = ? AND state ...`` question from the longer one.
Measured on SQLite: a million upserts 4.8-5.2 s with it, 3.9-4.0 s without; a million
state changes 6.5 s with it, 5.2-5.3 s without.

A store created at 0001 from today's ``schema.py`` never had it: it is dropped only if
present. SQLite drops the index's planner statistics row with it. Downgrading creates
it again (and gives SQLite's planner its row, as revision 0002 does).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "ix_ledger_entity_state"


def upgrade() -> None:
    op.get_bind().execute(sa.text(f"DROP INDEX IF EXISTS {INDEX}"))


def downgrade() -> None:
    from dotsync.store import planner

    conn = op.get_bind()
    conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON ledger (entity, state)"))
    planner.describe_index(conn, INDEX)
