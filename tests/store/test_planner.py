"""The ledger's key look-ups use its primary key on SQLite, whatever the store's size.

Without statistics SQLite guessed that ``entity = ?`` matched ten rows and scanned the
covering ``(entity, state, key)`` index for every ``key IN (…)`` look-up: every
contact row read for each 900 keys asked, which made a 1M/2M backfill several times
slower. The plans are asserted, not timed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from dotsync.store import Store
from dotsync.store.ledger import Ledger
from dotsync.store.planner import describe_ledger, index_stat

LOOKUP = 'SELECT "key", "state" FROM ledger WHERE "entity" = ? AND "key" IN (?, ?, ?)'
RETRY = ("SELECT key FROM ledger WHERE entity = 'orders' AND state = 'pending' "
         "AND key > 'x' ORDER BY key LIMIT 10")
#: The read-back of enrolments still processing (``enrolment_reads.unfinished``).
UNFINISHED = ("SELECT key, detail FROM ledger WHERE entity = ? AND state = 'synced' "
              "AND error_code = ?")
ERROR_CODE_PROBE = "ix_ledger_entity_error_code (entity=? AND error_code=?)"


def plan(db: Path, sql: str, params: tuple[str, ...] = ()) -> str:
    with sqlite3.connect(db) as conn:
        return " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_a_new_store_looks_keys_up_by_primary_key(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(f"sqlite:///{db}").dispose()
    assert "sqlite_autoindex_ledger_1 (entity=? AND key=?)" in plan(
        db, LOOKUP, ("contacts", "a", "b", "c"))
    # The change feed's retry paging keeps its own index.
    assert "ix_ledger_entity_state_key (entity=? AND state=? AND key>?)" in plan(db, RETRY)
    # The enrolment read-back probes the records with an error code, not every synced one.
    assert ERROR_CODE_PROBE in plan(db, UNFINISHED, ("cart_enrolments", "enrolment_processing"))


def test_a_store_described_before_the_error_code_index_gets_its_row(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as conn:  # as revision 0001 left a store it had described
        conn.execute("DROP INDEX ix_ledger_entity_error_code")
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
        assert "ix_ledger_entity_error_code" not in {
            idx for (idx,) in conn.execute("SELECT idx FROM sqlite_stat1")}
        conn.executemany("INSERT INTO ledger (entity, key, state, attempts) VALUES (?, ?, ?, 0)",
                         [("cart_enrolments", f"K{i}", "synced") for i in range(2000)])
    Store(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as conn:
        stats = dict(conn.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'ledger'"))
    assert stats["ix_ledger_entity_error_code"] == "1000000 200000 100"
    assert stats["ix_ledger_entity_state_key"] == "1000000 200000 1000 1"  # kept as it was
    assert ERROR_CODE_PROBE in plan(db, UNFINISHED, ("cart_enrolments", "enrolment_processing"))
    assert "sqlite_autoindex_ledger_1 (entity=? AND key=?)" in plan(
        db, LOOKUP, ("contacts", "a", "b", "c"))


def test_an_existing_store_without_statistics_gets_them_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM sqlite_stat1")
        conn.executemany("INSERT INTO ledger (entity, key, state, attempts) VALUES (?, ?, ?, 0)",
                         [("contacts", f"c{i}@example.com", "synced") for i in range(2000)])
    # The planner's choice without statistics: the covering index, scanned.
    assert "sqlite_autoindex_ledger_1" not in plan(db, LOOKUP, ("contacts", "a", "b", "c"))
    store = Store(f"sqlite:///{db}")
    try:
        assert Ledger(store).states("contacts", ["c5@example.com", "nobody@example.com"]) == {
            "c5@example.com": "synced"}
    finally:
        store.dispose()
    assert "sqlite_autoindex_ledger_1 (entity=? AND key=?)" in plan(
        db, LOOKUP, ("contacts", "a", "b", "c"))


def test_statistics_from_the_users_own_analyze_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM sqlite_stat1")
        conn.executemany("INSERT INTO ledger (entity, key, state, attempts) VALUES (?, ?, ?, 0)",
                         [("orders", f"O{i}", "synced") for i in range(500)])
        conn.execute("ANALYZE")
        before = sorted(conn.execute("SELECT * FROM sqlite_stat1 WHERE tbl = 'ledger'"))
    assert before
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        assert describe_ledger(conn) is False
    engine.dispose()
    with sqlite3.connect(db) as conn:
        assert sorted(conn.execute("SELECT * FROM sqlite_stat1 WHERE tbl = 'ledger'")) == before


def test_index_statistics_narrow_column_by_column() -> None:
    assert index_stat(["entity", "key"]) == "1000000 200000 1"
    assert index_stat(["entity", "state", "key"]) == "1000000 200000 1000 1"
    assert index_stat(["run_id"]) == "1000000 10"
    assert index_stat(["entity", "error_code"]) == "1000000 200000 100"
