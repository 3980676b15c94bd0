"""The store's schema revisions, run through Alembic with no ``alembic.ini``.

The environment and the revision scripts ship inside the package
(``dotsync/store/alembic/``) and are configured here, in code: the connection is the
one :func:`dotsync.store.migrations.migrate` opened on the user's database (from
``DOTSYNC_DATABASE_URL``), inside the transaction that holds the upgrade lock.

On PostgreSQL a store lives in the first schema of the connection's ``search_path``
(one schema per account); Alembic's ``alembic_version`` table is kept in that same
schema, so two accounts' stores in one database each have their own revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Where the environment (``env.py``) and the revision scripts (``versions/``) are.
SCRIPTS = Path(__file__).with_name("alembic")
#: The first revision: the schema as the old version table left it at version 7.
BASELINE = "0001"
#: The newest revision script (a test checks it against ``versions/``). Known without
#: Alembic so that opening a store already at head costs one query and no import of
#: Alembic (about 0.12 s per process).
HEAD = "0003"
#: The tables of the baseline. The baseline builds them from today's ``schema.py``; a
#: table added there since needs a revision that creates it on existing stores (the old
#: code created such tables on every opening; Alembic does not), which a test checks.
BASELINE_TABLES = frozenset({
    "attempts", "carts", "certificates", "customers", "dotsync_change_marks",
    "dotsync_change_readers", "dotsync_changes", "dotsync_clock", "dotsync_meta", "ledger",
    "orders", "products", "runs", "source_keys", "source_refunds", "source_shipments",
    "source_watermarks", "suppressions", "warnings",
})
#: Advisory-lock class of schema upgrades (the writer lock uses 0x0D075C).
_PG_CLASS = 0x0D075D


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer dotsync; refusing to guess its layout."""


@dataclass(frozen=True)
class Revision:
    """One revision script, for ``dotsync db history``."""

    revision: str
    down_revision: str | None
    doc: str


def config(conn: sa.Connection | None = None) -> Config:
    """Alembic's configuration, built in code; ``env.py`` runs on ``conn``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision this dotsync knows."""
    return HEAD


def history() -> list[Revision]:
    """Every revision, newest first."""
    return [Revision(s.revision, s.down_revision if isinstance(s.down_revision, str) else None,
                     (s.doc or "").strip())
            for s in scripts().walk_revisions()]


def version_schema(conn: sa.Connection) -> str | None:
    """The schema ``alembic_version`` lives in: the store's own (PostgreSQL's
    ``current_schema()``); None on SQLite, which has one namespace."""
    if conn.dialect.name == "postgresql":
        return str(conn.execute(sa.text("SELECT current_schema()")).scalar_one())
    return None


def current(conn: sa.Connection) -> str | None:
    """The revision the database is at, or None before the first upgrade (read with
    plain SQL: revisions never branch, so ``alembic_version`` holds one row)."""
    where = version_schema(conn)
    if not sa.inspect(conn).has_table("alembic_version", schema=where):
        return None
    table = sa.table("alembic_version", sa.column("version_num"), schema=where)
    found = conn.execute(sa.select(table.c.version_num)).scalar()
    return None if found is None else str(found)


def lock(conn: sa.Connection) -> None:
    """Serialise upgrades of one store until ``conn``'s transaction ends.

    Two processes opening a fresh PostgreSQL store at once would otherwise both see
    no tables and both try to create them; the second waits here and then finds the
    schema at head. Keyed by the schema, so accounts in one database do not wait on
    each other. SQLite has one writer at a time already.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:c, hashtext(current_schema()))"),
                     {"c": _PG_CLASS})


def upgrade(conn: sa.Connection, target: str = "head") -> str:
    """Run the revisions above the database's current one, on ``conn`` (in its
    transaction); returns the revision it is now at."""
    found = current(conn)
    if found == HEAD and target == "head":
        return found
    from alembic import command

    known = {s.revision for s in scripts().walk_revisions()}
    if found is not None and found not in known:
        raise SchemaTooNewError(
            f"the staging store is at schema revision {found}, which this dotsync does not "
            f"know (its newest is {head()}); upgrade dotsync")
    command.upgrade(config(conn), target)
    return current(conn) or ""


def new(message: str) -> str:
    """Write a new, empty revision script under ``versions/`` (for developers, in a
    source checkout); returns its path. Then set :data:`HEAD` to its id."""
    from alembic import command

    script = command.revision(config(), message=message)
    assert script is not None and not isinstance(script, list)
    return str(script.path)
