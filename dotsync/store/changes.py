"""Change stamps: which staged records changed since dotsync last processed them.

Every insert or update of a staged row, however it is made (``dotsync load``, a
connector, or a source system's plain SQL), gets a *change stamp* in
``dotsync_changes``, written by triggers on the staging tables:

* **SQLite**: ``AFTER INSERT/UPDATE/DELETE`` triggers bump a one-row counter
  (``dotsync_clock``) and copy it to the record's stamp. SQLite has one writer at a
  time, so stamps become visible in the order they were taken: everything stamped
  at or below the counter a reader sees is committed.
* **PostgreSQL**: an ``AFTER INSERT OR UPDATE OR DELETE`` row trigger stamps the
  record with the writing transaction's 64-bit id (``pg_current_xact_id()``). A
  sequence would not do: a transaction can take a lower number and commit after a
  higher one, and a reader that moved past the higher one would never see the lower
  one. Transaction ids come with snapshots that say exactly which transactions may
  still commit: every transaction below the snapshot's ``xmin`` has ended, so every
  record it stamped is visible.

Triggers rather than generated columns because the stamp must change on *every*
write, including one that restores an earlier value, and a side table rather than a
column so the staging tables keep exactly the columns of SPEC §1.

A run reads a :class:`Window` per entity: records stamped from the entity's *mark*
(everything below it was processed by a run that finished its step) up to what was
committed when the window opened. It compares each record's fingerprint with the
ledger as before (so a record changed back to an earlier content is still sent when
Dotdigital holds the newer one), adds the records the ledger says to retry
(``pending``, ``failed``), and once the step is done moves the mark to the window's
*safe* point: on SQLite the counter it saw, on PostgreSQL the snapshot's ``xmin``.
A change committed while the run reads is therefore read by this run or by the next
one, never skipped.

Two runs may work at once (a backfill beside a sync). A slow run can write, after a
faster one finished, the fingerprint of a version it read before a change; so every
window is registered in ``dotsync_change_readers`` and a mark never moves past the
safe point of a window still open (a window left open by a killed process is dropped
once its process is gone, or after :data:`READER_TTL`).
"""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import keys, schema
from dotsync.store.frames import object_frame

#: A registered window older than this is taken for one a dead process left behind.
READER_TTL = timedelta(hours=24)

readers = schema.change_readers


# -- installing the triggers ------------------------------------------------------------


def _sqlite_triggers(entity: str) -> list[str]:
    new, old = keys.trigger_sql(entity, "NEW"), keys.trigger_sql(entity, "OLD")
    stamp = "(SELECT stamp FROM dotsync_clock WHERE id = 1)"
    touch = (
        "UPDATE dotsync_clock SET stamp = stamp + 1 WHERE id = 1; "
        f"UPDATE dotsync_changes SET stamp = {stamp}, deleted = 0 "
        f"WHERE entity = '{entity}' AND key = {new}; "
        "INSERT INTO dotsync_changes (entity, key, stamp, deleted) "
        f"SELECT '{entity}', {new}, {stamp}, 0 WHERE NOT EXISTS "
        f"(SELECT 1 FROM dotsync_changes WHERE entity = '{entity}' AND key = {new}); "
    )
    gone = ("UPDATE dotsync_changes SET deleted = 1 "
            f"WHERE entity = '{entity}' AND key = {old}")
    # No INSERT OR REPLACE / upsert inside: a trigger's conflict policy is overridden by
    # the statement that fired it (an INSERT OR IGNORE would then skip the stamp).
    return [
        f"CREATE TRIGGER dotsync_stamp_{entity}_insert AFTER INSERT ON \"{entity}\" "
        f"BEGIN {touch} END",
        f"CREATE TRIGGER dotsync_stamp_{entity}_update AFTER UPDATE ON \"{entity}\" "
        f"BEGIN {gone} AND ({old}) IS NOT ({new}); {touch} END",
        f"CREATE TRIGGER dotsync_stamp_{entity}_delete AFTER DELETE ON \"{entity}\" "
        f"BEGIN {gone}; END",
    ]


def _postgres_triggers(entity: str, where: str) -> list[str]:
    new, old = keys.trigger_sql(entity, "NEW"), keys.trigger_sql(entity, "OLD")
    changes = f'"{where}".dotsync_changes'
    function = f'"{where}".dotsync_stamp_{entity}'
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR ({old}) IS DISTINCT FROM ({new})) THEN
    UPDATE {changes} SET deleted = 1 WHERE entity = '{entity}' AND key = {old};
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  INSERT INTO {changes} (entity, key, stamp, deleted)
  VALUES ('{entity}', {new}, pg_current_xact_id()::text::bigint, 0)
  ON CONFLICT (entity, key) DO UPDATE SET stamp = EXCLUDED.stamp, deleted = 0;
  RETURN NEW;
END $$""",
        f'DROP TRIGGER IF EXISTS dotsync_stamp ON "{where}"."{entity}"',
        f'CREATE TRIGGER dotsync_stamp AFTER INSERT OR UPDATE OR DELETE ON "{where}"."{entity}" '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
    ]


def install(conn: sa.Connection) -> None:
    """Create (or re-create) the stamping triggers of every staged table.

    The tables (``dotsync_changes``, ``dotsync_clock``) must exist already.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.execute(sa.text("INSERT INTO dotsync_clock (id, stamp) SELECT 1, 0 "
                             "WHERE NOT EXISTS (SELECT 1 FROM dotsync_clock WHERE id = 1)"))
        for entity in schema.STAGED_ENTITIES:
            for kind in ("insert", "update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS dotsync_stamp_{entity}_{kind}")
            for ddl in _sqlite_triggers(entity):
                conn.exec_driver_sql(ddl)
    elif dialect == "postgresql":
        where = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        for entity in schema.STAGED_ENTITIES:
            for ddl in _postgres_triggers(entity, where):
                conn.exec_driver_sql(ddl)
    else:  # pragma: no cover - dotsync supports SQLite and PostgreSQL
        raise NotImplementedError(f"change stamps need SQLite or PostgreSQL, not {dialect}")


def stamp_existing(conn: sa.Connection) -> None:
    """Give every staged row of an upgraded store a stamp of 0 (below any mark, and no
    mark exists yet, so the first run after the upgrade compares every row once), and
    note ledger rows whose staged row is gone as deleted (``dotsync status``)."""
    changes = schema.changes
    for entity in schema.STAGED_ENTITIES:
        table = schema.STAGING_TABLES[entity]
        key = keys.expression(entity, table)
        known = sa.select(changes.c.key).where(changes.c.entity == entity)
        conn.execute(changes.insert().from_select(
            ["entity", "key", "stamp", "deleted"],
            sa.select(sa.literal(entity), key, sa.literal(0), sa.literal(0))
            .where(key.is_not(None)).where(key.not_in(known))))
        ledger = schema.ledger
        conn.execute(changes.insert().from_select(
            ["entity", "key", "stamp", "deleted"],
            sa.select(sa.literal(entity), ledger.c.key, sa.literal(0), sa.literal(1))
            .where(ledger.c.entity == entity)
            .where(ledger.c.key.not_in(sa.select(key).where(key.is_not(None))))
            .where(ledger.c.key.not_in(known))))


# -- reading what changed ---------------------------------------------------------------

#: An upper bound above every stamp: a window that reads up to whatever is committed.
NO_END = 2**62


@dataclass(frozen=True)
class Window:
    """What one run reads of one entity: stamps in ``[low, high)``; ``safe`` is where
    the mark may move once the run has processed them."""

    entity: str
    low: int
    high: int
    safe: int
    reader_id: str


class ChangeFeed:
    """Windows over the change stamps of a store, and the marks they move."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- the clock and the marks ---------------------------------------------------------

    def _now(self, conn: sa.Connection) -> tuple[int, int]:
        """(safe, high): everything stamped below ``safe`` is committed and visible;
        nothing that was committed when this was asked is stamped at or above ``high``."""
        if conn.dialect.name == "postgresql":
            xmin, xmax = conn.execute(sa.text(
                "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                "FROM (SELECT pg_current_snapshot() AS s) AS now")).one()
            return int(xmin), int(xmax)
        stamp = conn.execute(sa.select(schema.clock.c.stamp).where(
            schema.clock.c.id == 1)).scalar()
        return int(stamp or 0) + 1, int(stamp or 0) + 1

    def mark(self, entity: str, conn: sa.Connection | None = None) -> int:
        """The entity's mark (0 when no run has finished a step over it yet)."""
        query = sa.select(schema.change_marks.c.mark).where(
            schema.change_marks.c.entity == entity)
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def open(self, entity: str) -> Window:
        """A window over ``entity`` from its mark to now, registered until closed."""
        reader_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            # Registered first (on SQLite that takes the write lock, so the clock read
            # next is the latest), then given its safe point: a version this run reads
            # is never older than what was committed below it.
            conn.execute(readers.insert().values(
                reader_id=reader_id, entity=entity, mark=0,
                host=socket.gethostname(), pid=os.getpid(), opened_at=datetime.now(UTC)))
            safe, high = self._now(conn)
            low = self.mark(entity, conn)
            if low > safe:
                # The clock went back: the database was restored into another cluster
                # (or the marks copied from another store). Its marks mean nothing
                # here: compare every record once, as after an upgrade.
                low = 0
            conn.execute(readers.update().where(readers.c.reader_id == reader_id)
                         .values(mark=safe))
        return Window(entity=entity, low=low, high=high, safe=safe, reader_id=reader_id)

    def close(self, window: Window, *, processed: bool) -> int:
        """End a window; with ``processed`` (every record in it is settled in the
        ledger) move the mark to its safe point, or as far towards it as the windows
        other runs still have open allow. Returns the entity's mark."""
        marks = schema.change_marks
        with self.engine.begin() as conn:
            conn.execute(readers.delete().where(readers.c.reader_id == window.reader_id))
            if not processed:
                return self.mark(window.entity, conn)
            target = window.safe
            for other in self._open_readers(conn, window.entity):
                target = min(target, other)
            stored = self.mark(window.entity, conn)
            # Forward only, unless the stored mark is from a clock that went back (a
            # lower mark is always safe: it only means reading more next time).
            if target > stored or stored > window.safe:
                table = _insert_for(conn)(marks).values(entity=window.entity, mark=target)
                conn.execute(table.on_conflict_do_update(
                    index_elements=["entity"], set_={"mark": table.excluded.mark}))
                return target
            return stored

    def _open_readers(self, conn: sa.Connection, entity: str) -> list[int]:
        """Marks of the windows other runs hold open on ``entity``; windows of processes
        that are gone (same host, pid no longer running) or too old are dropped."""
        here = socket.gethostname()
        cutoff = datetime.now(UTC) - READER_TTL
        alive: list[int] = []
        dead: list[str] = []
        for reader_id, mark, host, pid, opened in conn.execute(
                sa.select(readers.c.reader_id, readers.c.mark, readers.c.host, readers.c.pid,
                          readers.c.opened_at).where(readers.c.entity == entity)):
            if opened is not None and opened.tzinfo is None:
                opened = opened.replace(tzinfo=UTC)
            if (opened is not None and opened < cutoff) or (
                    host == here and pid is not None and not _running(int(pid))):
                dead.append(reader_id)
            else:
                alive.append(int(mark))
        if dead:
            conn.execute(readers.delete().where(readers.c.reader_id.in_(dead)))
        return alive

    # -- the records ---------------------------------------------------------------------

    def changed(self, window: Window, chunk_rows: int,
                columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """Staged rows of the window's entity stamped in ``[low, high)``, in frames of at
        most ``chunk_rows`` (a page at a time, by stamp then key: no scan, no long read);
        only ``columns`` when given (every column of the entity by default)."""
        entity = window.entity
        table = schema.STAGING_TABLES[entity]
        cols = list(columns or schema.ENTITY_COLUMNS[entity])
        ch = schema.changes
        base = (sa.select(ch.c.stamp, ch.c.key, *[table.c[c] for c in cols])
                .select_from(ch.join(table, keys.join_on(entity, table, ch.c.key)))
                .where(ch.c.entity == entity, ch.c.deleted == 0,
                       ch.c.stamp >= window.low, ch.c.stamp < window.high)
                .order_by(ch.c.stamp, ch.c.key).limit(chunk_rows))
        after: tuple[int, str] | None = None
        while True:
            query = base if after is None else base.where(sa.or_(
                ch.c.stamp > after[0], sa.and_(ch.c.stamp == after[0], ch.c.key > after[1])))
            with self.engine.connect() as conn:
                rows = list(conn.execute(query))
            if not rows:
                return
            after = (int(rows[-1][0]), str(rows[-1][1]))
            yield object_frame([r[2:] for r in rows], cols)
            if len(rows) < chunk_rows:
                return

    def to_retry(self, window: Window, chunk_rows: int,
                 states: tuple[str, ...] = ("pending", "failed"),
                 columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """Staged rows the ledger says to process again (``pending``, ``failed``) that
        the window's :meth:`changed` does not return, a page at a time by key (only
        ``columns`` when given)."""
        entity = window.entity
        table = schema.STAGING_TABLES[entity]
        cols = list(columns or schema.ENTITY_COLUMNS[entity])
        ch, led = schema.changes, schema.ledger
        in_window = sa.exists().where(ch.c.entity == entity, ch.c.key == led.c.key,
                                      ch.c.stamp >= window.low, ch.c.stamp < window.high)
        for state in states:
            base = (sa.select(led.c.key, *[table.c[c] for c in cols])
                    .select_from(led.join(table, keys.join_on(entity, table, led.c.key)))
                    .where(led.c.entity == entity, led.c.state == state, ~in_window)
                    .order_by(led.c.key).limit(chunk_rows))
            after: str | None = None
            while True:
                query = base if after is None else base.where(led.c.key > after)
                with self.engine.connect() as conn:
                    rows = list(conn.execute(query))
                if not rows:
                    break
                after = str(rows[-1][0])
                yield object_frame([r[1:] for r in rows], cols)
                if len(rows) < chunk_rows:
                    break

    def since_mark(self, entity: str, chunk_rows: int = 20_000) -> Iterator[pd.DataFrame]:
        """Read-only: the staged rows of ``entity`` the next run will look at (stamped
        since the mark, or to retry), in chunks. Moves nothing and registers nothing:
        for checks over what a run is about to send (``status``, data checks) at a cost
        that follows the changes."""
        window = Window(entity=entity, low=self.mark(entity), high=NO_END, safe=0,
                        reader_id="")
        yield from self.changed(window, chunk_rows)
        yield from self.to_retry(window, chunk_rows)

    def column_since_mark(self, entity: str, column: str,
                          chunk_rows: int = 20_000) -> Iterator[list[Any]]:
        """Read-only, like :meth:`since_mark`, but one column's values only, a page at a
        time: what a run needs to know ahead of a step (the guests' e-mails before the
        contacts are pushed) without reading, or holding, whole rows."""
        window = Window(entity=entity, low=self.mark(entity), high=NO_END, safe=0,
                        reader_id="")
        for frame in itertools.chain(self.changed(window, chunk_rows, [column]),
                                     self.to_retry(window, chunk_rows, columns=[column])):
            yield frame[column].tolist()

    def counts(self, window: Window) -> tuple[int, int]:
        """(records stamped in the window, records the ledger says to retry): what a run
        over the window will read, from the indexes alone."""
        entity = window.entity
        ch, led = schema.changes, schema.ledger
        with self.engine.connect() as conn:
            changed = conn.execute(sa.select(sa.func.count()).select_from(ch).where(
                ch.c.entity == entity, ch.c.deleted == 0, ch.c.stamp >= window.low,
                ch.c.stamp < window.high)).scalar_one()
            retry = conn.execute(sa.select(sa.func.count()).select_from(led).where(
                led.c.entity == entity, led.c.state.in_(["pending", "failed"]))).scalar_one()
        return int(changed), int(retry)


def _insert_for(conn: sa.Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
