"""Creating and upgrading the store's schema: the old version table, then Alembic.

Until version 7 the schema was versioned by hand: ``dotsync_meta.schema_version``
and one step per version in :data:`STEPS`. From then on every change is an Alembic
revision (``dotsync/store/alembic/versions/``, run by :mod:`dotsync.store.revisions`;
``docs/ARCHITECTURE.md`` says how to add one). :func:`migrate`, run by every
``Store()`` and by ``dotsync db upgrade``, joins the two in one transaction, under a
lock (:func:`revisions.lock`):

1. A database the old code stamped at version N (any of 1..7) is brought forward by
   the old steps N+1..7, as before; its rows stay where they are.
2. Alembic then upgrades to head. Its first revision, the *baseline* (``0001``), is
   the version-7 schema: on a new database it creates every table, index and
   trigger and stamps ``schema_version`` 7; on a database step 1 brought to 7 it only
   creates the empty tables the old code created on every opening without a version
   step (``create_all``), and Alembic records the baseline in ``alembic_version``.

So an existing store from any old version upgrades in place, and a new one is built
the same way. The version number stays 7 for good (:data:`SCHEMA_VERSION`); what
changes from now on is the Alembic revision. The baseline and the old steps build
tables from today's definitions in ``schema.py``, so a later revision must be
idempotent (create with ``checkfirst``, add a column only if it is missing), as every
old step was.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from dotsync.store import changes, planner, revisions, schema
from dotsync.store.revisions import SchemaTooNewError


def _v2_ledger_keys_as_text(conn: sa.Connection) -> None:
    """Version 2: ledger keys are unbounded text, like the staged keys they mirror
    (a 600-character order id must be reportable, not a failed write)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text('ALTER TABLE ledger ALTER COLUMN "key" TYPE TEXT'))
    # SQLite does not enforce VARCHAR lengths: nothing to change.


def _add_text_columns(conn: sa.Connection, table: str, columns: tuple[str, ...]) -> None:
    present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    for column in columns:
        if column not in present:
            conn.execute(sa.text(f'ALTER TABLE "{table}" ADD COLUMN "{column}" TEXT'))


def _v3_customer_consent_records(conn: sa.Connection) -> None:
    """Version 3: the customers table gains the consent-record columns (SPEC §1)."""
    _add_text_columns(conn, "customers", schema.LATER_COLUMNS["customers"])


def _v4_warnings(conn: sa.Connection) -> None:
    """Version 4: the ``warnings`` table (fields left out of what was sent, SPEC §1)."""
    schema.warnings.create(conn, checkfirst=True)


def _v5_change_stamps(conn: sa.Connection) -> None:
    """Version 5: change stamps kept by triggers on the staging tables, so a run reads
    only what changed (:mod:`dotsync.store.changes`). Existing rows get stamp 0 and no
    mark exists yet: the first run after the upgrade compares each row with the
    ledger once, in chunks, and sends only what really changed."""
    # Tables this version adds (and any an old store lacks), then the new indexes of
    # the tables it had.
    schema.metadata.create_all(conn, checkfirst=True)
    for index in (*schema.ledger.indexes, *schema.customers.indexes):
        # IF NOT EXISTS, not checkfirst: reflection does not see expression indexes.
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    changes.stamp_existing(conn)
    changes.install(conn)


def _v6_attempts(conn: sa.Connection) -> None:
    """Version 6: the append-only ``attempts`` log (``dotsync trace``). It starts empty:
    the ledger's last error per record stays where it was."""
    schema.attempts.create(conn, checkfirst=True)


def _v7_carts_and_products(conn: sa.Connection) -> None:
    """Version 7: the ``carts`` and ``products`` staging tables (SPEC §1, issue 16),
    with their indexes and change-stamping triggers. The tables are new and empty, so
    no stamps are owed; the triggers of the other tables are re-created unchanged."""
    for table in (schema.carts, schema.products):
        table.create(conn, checkfirst=True)
        for index in table.indexes:
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    changes.install(conn)


#: Steps from version N-1 to N, keyed by N. Version 1 is the initial schema.
STEPS: dict[int, Callable[[sa.Connection], None]] = {
    2: _v2_ledger_keys_as_text,
    3: _v3_customer_consent_records,
    4: _v4_warnings,
    5: _v5_change_stamps,
    6: _v6_attempts,
    7: _v7_carts_and_products,
}
SCHEMA_VERSION = 7


def current_version(conn: sa.Connection) -> int | None:
    """The stamped version, or None for a database dotsync has never touched."""
    if not sa.inspect(conn).has_table(schema.meta.name):
        return None
    row = conn.execute(
        sa.select(schema.meta.c.value).where(schema.meta.c.name == "schema_version")
    ).first()
    return int(row[0]) if row else None


def _stamp(conn: sa.Connection, version: int) -> None:
    updated = conn.execute(
        schema.meta.update()
        .where(schema.meta.c.name == "schema_version")
        .values(value=str(version))
    )
    if updated.rowcount == 0:
        conn.execute(schema.meta.insert().values(name="schema_version", value=str(version)))


def create_at_baseline(conn: sa.Connection) -> None:
    """A new store at version 7: every table, the change-stamping triggers, the stamp
    (Alembic's baseline revision)."""
    schema.metadata.create_all(conn, checkfirst=True)
    changes.install(conn)
    _stamp(conn, SCHEMA_VERSION)


def _bring_forward(conn: sa.Connection, version: int) -> None:
    """Run the old steps above ``version`` (a store the old code created)."""
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the staging store is at schema version {version}, newer than this "
            f"dotsync understands ({SCHEMA_VERSION}); upgrade dotsync"
        )
    if version == SCHEMA_VERSION:
        return
    for step in range(version + 1, SCHEMA_VERSION + 1):
        STEPS[step](conn)
        _stamp(conn, step)
    # Tables added since (with no data to carry) are created here too.
    schema.metadata.create_all(conn, checkfirst=True)


def migrate(engine: sa.Engine) -> int:
    """Create or upgrade the schema to Alembic's head (see the module's docstring);
    returns the old-style version the database is now at (always
    :data:`SCHEMA_VERSION`)."""
    with engine.begin() as conn:
        revisions.lock(conn)
        version = current_version(conn)
        if version is not None:
            _bring_forward(conn, version)
        revisions.upgrade(conn)
        planner.describe_ledger(conn)
        return SCHEMA_VERSION
