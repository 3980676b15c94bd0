"""The ledger's records with an error code, indexed by (entity, error_code).

Every carts and order-programs run reads back the enrolments earlier runs made
(``error_code = 'enrolment_processing'``). Through the (entity, state) indexes that
read walked every synced record of the entity, so it grew with the history of
enrolments rather than with what is still unfinished. The index is partial (only
rows with a code, a small share of the ledger), so it costs little to keep.

A new store already has it (the baseline builds today's ``schema.py``), as does a
store the old version steps brought forward (step 5 creates every ledger index): it
is created only if missing. On SQLite, a store whose planner statistics were written
before the index gets the index's row too (:func:`dotsync.store.planner.describe_index`).
Downgrading drops the index and nothing else.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEX = "ix_ledger_entity_error_code"


def upgrade() -> None:
    from dotsync.store import planner, schema

    conn = op.get_bind()
    index = next(i for i in schema.ledger.indexes if i.name == INDEX)
    conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    planner.describe_index(conn, INDEX)


def downgrade() -> None:
    # SQLite drops the index's statistics row with it.
    op.get_bind().execute(sa.text(f"DROP INDEX IF EXISTS {INDEX}"))
