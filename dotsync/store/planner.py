"""What SQLite's query planner is told about the ledger's shape, so key look-ups use
its primary key.

The sync asks the ledger for the rows of many keys at a time (``WHERE entity = ? AND
key IN (…)``: the contact gate of every order chunk, the pending check of every
chunk read). The ledger has indexes that start with ``entity`` and cover ``key``
(``ix_ledger_entity_state_key``, for the change feed's retry paging). Without
statistics, SQLite assumes an equality on an index's first column matches about ten
rows (https://www.sqlite.org/optoverview.html, "the query planner assumes…"), so it
prefers scanning that covering index over one primary-key probe per key: at a million
contacts each 900-key query then reads every contact row (0.5 s instead of 10 ms),
which made a 1M/2M backfill several times slower.

SQLite documents how to give the planner the truth without running ``ANALYZE`` over a
big table: write approximate rows into ``sqlite_stat1``
(https://www.sqlite.org/optoverview.html#manual_control_of_query_plans_using_sqlite_stat_tables).
:func:`describe_ledger` does that once, only when the ledger has no statistics yet
(real ones from a user's own ``ANALYZE`` are kept): few entities, each with many
rows; a few states per entity; one row per ``(entity, key)``; few rows per error code
(``ix_ledger_entity_error_code`` holds only the records with one, so the read-back of
unfinished enrolments, ``error_code = ?``, probes it rather than every synced row of
its entity). PostgreSQL keeps its own statistics (autovacuum's ``ANALYZE``) and is
left alone.

An index added by a later schema revision has no row in statistics written before
it; SQLite would then guess for it alone. :func:`describe_index` gives it its row
(the revision that creates it calls it).
"""

from __future__ import annotations

import sqlalchemy as sa

#: Rows the statistics describe: only the ratios between the figures matter.
ROWS = 1_000_000
#: Rows per distinct value after each leading index column, by column name.
PER_VALUE = {"entity": 200_000, "state": 1_000, "key": 1, "error_code": 100}


def index_stat(columns: list[str]) -> str:
    """The ``sqlite_stat1.stat`` text of an index over ``columns`` of the ledger."""
    figures = [ROWS]
    for name in columns:
        figures.append(min(figures[-1], PER_VALUE.get(name, 10)))
    return " ".join(str(f) for f in figures)


def describe_ledger(conn: sa.Connection) -> bool:
    """Give SQLite's planner the ledger's shape when it has none; True when written."""
    if conn.dialect.name != "sqlite":
        return False
    has_stats = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if has_stats and conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_stat1 WHERE tbl = 'ledger'").first():
        return False
    if not has_stats:
        # The table can only be made by ANALYZE; of an empty table it costs nothing, and
        # ``analysis_limit`` bounds it on a big one.
        conn.exec_driver_sql("PRAGMA analysis_limit = 100")
        conn.exec_driver_sql("ANALYZE sqlite_master")
    conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'ledger'")
    for (index,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger'"
    ).fetchall():
        _write(conn, index)
    conn.exec_driver_sql("ANALYZE sqlite_master")  # the planner reads the rows again
    return True


def describe_index(conn: sa.Connection, index: str) -> bool:
    """Give SQLite's planner the shape of one ledger index the statistics leave out
    (one a revision added to a store described before it); True when written.

    A store whose ledger has no statistics at all is left to :func:`describe_ledger`,
    which describes every index; an index that has its row (from it, or from the
    user's own ``ANALYZE``) keeps it.
    """
    if conn.dialect.name != "sqlite" or not conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first():
        return False
    described = {idx for (idx,) in conn.exec_driver_sql(
        "SELECT idx FROM sqlite_stat1 WHERE tbl = 'ledger'")}
    if not described or index in described or not _write(conn, index):
        return False
    conn.exec_driver_sql("ANALYZE sqlite_master")
    return True


def _write(conn: sa.Connection, index: str) -> bool:
    """Write the statistics row of ``index`` (False when there is no such index)."""
    columns = [row[2] for row in conn.exec_driver_sql(f'PRAGMA index_info("{index}")')]
    if not columns:
        return False
    conn.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                         ("ledger", index, index_stat(columns)))
    return True
