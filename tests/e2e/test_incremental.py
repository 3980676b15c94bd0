"""The scheduled sync reads only what changed, and never misses a change.

Runs go through :func:`dotsync.sync.run.run_sync` (the flow's steps in its order) on
SQLite and PostgreSQL, against the emulator, from an empty account. Changes are made
the way a source system makes them (SPEC §1): plain SQL on the staging tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from dotsync import failpoints
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store, migrations, schema
from dotsync.store.changes import ChangeFeed
from dotsync.store.status import status
from tests.e2e.helpers import customer, order, stage, states, write_calls
from tests.reliability.harness import settings_for, sync_once


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.02, random_seed=1)) as server:
        yield server


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def insert_customer(store: Store, i: int, first_name: str = "Ann") -> None:
    sql(store, "INSERT INTO customers (customer_id, email, first_name, country, "
               "email_consent, updated_at) VALUES (:id, :email, :first, 'GB', 'subscribed', "
               "'2026-10-01T10:00:00Z')",
        id=f"C{i}", email=f"customer{i}@example.com", first=first_name)


def first_name(emulator: EmulatorServer, i: int) -> Any:
    contact = emulator.state.contact(f"customer{i}@example.com")
    return None if contact is None else contact["dataFields"].get("FIRSTNAME")


def run(store: Store, emulator: EmulatorServer, **options: Any) -> Any:
    return sync_once(store, settings_for(emulator, "unused"), **options)


def to_read(store: Store) -> dict[str, tuple[int, int]]:
    """What a run opened now would read per entity: (stamped since the mark, to retry)."""
    feed = ChangeFeed(store.engine)
    out = {}
    for entity in schema.ENTITIES:
        window = feed.open(entity)
        out[entity] = feed.counts(window)
        feed.close(window, processed=False)
    return out


def test_plain_sql_inserts_and_updates_are_picked_up_and_nothing_else_is_read(
        store: Store, emulator: EmulatorServer) -> None:
    for i in range(3):
        insert_customer(store, i)
    sql(store, "INSERT INTO orders (order_id, customer_email, status, currency, total, "
               "placed_at, updated_at, lines) VALUES ('O1', 'customer1@example.com', "
               "'placed', 'GBP', '12.0', '2026-10-02T10:00:00Z', '2026-10-02T10:00:00Z', "
               ":lines)", lines='[{"sku":"MUG","name":"Mug","quantity":1,"unit_price":12.0}]')
    report = run(store, emulator)
    assert report.counts["contacts"].sent == 3 and report.counts["orders"].sent == 1, \
        report.problems
    assert to_read(store) == dict.fromkeys(schema.ENTITIES, (0, 0))

    sql(store, "UPDATE customers SET first_name = 'Changed' WHERE customer_id = 'C1'")
    insert_customer(store, 9, "New")
    assert to_read(store)["customers"] == (2, 0)
    calls = len(emulator.state.calls())
    report = run(store, emulator)
    assert report.counts["contacts"].sent == 2
    assert report.counts["contacts"].considered == 2  # the other rows were never read
    assert first_name(emulator, 1) == "Changed" and first_name(emulator, 9) == "New"
    assert first_name(emulator, 0) == "Ann"
    assert len(write_calls(emulator.state.calls()[calls:])) == 2

    # An UPDATE that writes the same values stamps the row: it is read, its fingerprint
    # matches the ledger's, and it is not even considered.
    sql(store, "UPDATE orders SET status = 'placed' WHERE order_id = 'O1'")
    assert to_read(store)["orders"] == (1, 0)
    calls = len(emulator.state.calls())
    report = run(store, emulator)
    assert report.counts["orders"].considered == 0
    assert write_calls(emulator.state.calls()[calls:]) == []
    # And a run with nothing changed reads nothing and writes nothing.
    report = run(store, emulator)
    assert sum(c.considered for c in report.counts.values()) == 0
    assert to_read(store) == dict.fromkeys(schema.ENTITIES, (0, 0))


def test_a_row_changed_back_to_an_earlier_content_is_sent_again(
        store: Store, emulator: EmulatorServer) -> None:
    insert_customer(store, 1, "Ann")
    run(store, emulator)
    sql(store, "UPDATE customers SET first_name = 'Bea' WHERE customer_id = 'C1'")
    run(store, emulator)
    assert first_name(emulator, 1) == "Bea"
    sql(store, "UPDATE customers SET first_name = 'Ann' WHERE customer_id = 'C1'")
    report = run(store, emulator)
    assert report.counts["contacts"].sent == 1
    assert first_name(emulator, 1) == "Ann"
    # Changed and changed back between two runs: Dotdigital already holds it.
    sql(store, "UPDATE customers SET first_name = 'Cy' WHERE customer_id = 'C1'")
    sql(store, "UPDATE customers SET first_name = 'Ann' WHERE customer_id = 'C1'")
    calls = len(emulator.state.calls())
    report = run(store, emulator)
    assert report.counts["contacts"].sent == 0
    assert write_calls(emulator.state.calls()[calls:]) == []


def test_a_change_committed_while_a_run_reads_is_sent_by_that_run_or_the_next(
        store: Store, emulator: EmulatorServer) -> None:
    for i in range(5):
        insert_customer(store, i)
    run(store, emulator)
    sql(store, "UPDATE customers SET first_name = 'Read' WHERE customer_id = 'C0'")

    def change_during_the_read() -> None:
        failpoints.hooks.pop("after_change_read")
        # Another connection, its own transaction, committed between read and mark.
        other = sa.create_engine(store.engine.url, **_same_schema(store))
        with other.begin() as conn:
            conn.execute(sa.text("UPDATE customers SET first_name = 'During' "
                                 "WHERE customer_id IN ('C0', 'C3')"))
        other.dispose()

    failpoints.hooks["after_change_read"] = change_during_the_read
    try:
        run(store, emulator, entities=["contacts"])
    finally:
        failpoints.hooks.pop("after_change_read", None)
    # C0 was read before the change and again (its e-mail group) after it: either
    # version may have gone. C3 changed after the run's window opened: not this run's.
    assert first_name(emulator, 0) in ("Read", "During")
    assert first_name(emulator, 3) == "Ann"
    run(store, emulator)
    assert first_name(emulator, 0) == "During" and first_name(emulator, 3) == "During"
    assert to_read(store)["customers"] == (0, 0)


@pytest.mark.postgres
def test_postgres_a_lower_stamp_committed_after_a_higher_one_is_not_lost(
        postgres_store: Store, emulator: EmulatorServer) -> None:
    """A transaction that began writing before a run and commits while the run reads
    has a lower transaction id than writes the run already saw: still read later."""
    store = postgres_store
    for i in range(3):
        insert_customer(store, i)
    run(store, emulator)
    slow = store.engine.connect()
    slow_tx = slow.begin()
    slow.execute(sa.text("UPDATE customers SET first_name = 'Slow' WHERE customer_id = 'C1'"))
    sql(store, "UPDATE customers SET first_name = 'Quick' WHERE customer_id = 'C2'")

    def commit_the_slow_one() -> None:
        failpoints.hooks.pop("after_change_read")
        slow_tx.commit()

    failpoints.hooks["after_change_read"] = commit_the_slow_one
    try:
        run(store, emulator, entities=["contacts"])
    finally:
        failpoints.hooks.pop("after_change_read", None)
        slow.close()
    assert first_name(emulator, 2) == "Quick"
    run(store, emulator)
    assert first_name(emulator, 1) == "Slow"


def _same_schema(store: Store) -> dict[str, Any]:
    """Engine arguments that reach the store's PostgreSQL schema (tests use their own)."""
    if store.dialect != "postgresql":
        return {}
    with store.engine.connect() as conn:
        where = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    return {"connect_args": {"options": f"-csearch_path={where}"}}


def _downgrade_to_v3(store: Store) -> None:
    """Make the store look as version 3 left it: no stamps, triggers, marks or indexes."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            for entity in schema.ENTITIES:
                for kind in ("insert", "update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER dotsync_stamp_{entity}_{kind}")
        else:
            for entity in schema.ENTITIES:
                conn.exec_driver_sql(f'DROP TRIGGER dotsync_stamp ON "{entity}"')
                conn.exec_driver_sql(f"DROP FUNCTION dotsync_stamp_{entity}()")
        for table in ("dotsync_changes", "dotsync_clock", "dotsync_change_marks",
                      "dotsync_change_readers"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("DROP INDEX ix_ledger_entity_state_key")
        conn.exec_driver_sql("DROP INDEX ix_customers_email_norm")
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '3' "
                             "WHERE name = 'schema_version'"))


def test_an_old_store_upgrades_in_place_and_its_first_run_resends_nothing(
        store: Store, emulator: EmulatorServer) -> None:
    stage(store, "customers", [customer(i) for i in range(6)])
    stage(store, "orders", [order(i, f"customer{i % 6}@example.com") for i in range(10)])
    run(store, emulator)
    _downgrade_to_v3(store)
    # Changed while the store was at the old version (no trigger saw it).
    sql(store, "UPDATE customers SET first_name = 'Offline' WHERE customer_id = 'C4'")
    before = states(store, "orders")
    upgraded = Store(str(store.engine.url), engine=store.engine)
    assert upgraded.schema_version == migrations.SCHEMA_VERSION
    calls = len(emulator.state.calls())
    report = run(upgraded, emulator)
    # Every row compared once; only the one that changed is sent.
    assert report.counts["contacts"].sent == 1 and report.counts["orders"].sent == 0
    assert len(write_calls(emulator.state.calls()[calls:])) == 1
    assert first_name(emulator, 4) == "Offline"
    assert states(upgraded, "orders") == before
    assert to_read(upgraded) == dict.fromkeys(schema.ENTITIES, (0, 0))
    # The triggers work after the upgrade.
    sql(upgraded, "UPDATE customers SET first_name = 'After' WHERE customer_id = 'C5'")
    report = run(upgraded, emulator)
    assert report.counts["contacts"].sent == 1 and first_name(emulator, 5) == "After"


def test_status_counts_from_aggregates_match_the_ledger_after_sql_changes(
        store: Store, emulator: EmulatorServer) -> None:
    for i in range(4):
        insert_customer(store, i)
    run(store, emulator)
    sql(store, "UPDATE customers SET first_name = 'New' WHERE customer_id = 'C0'")
    sql(store, "DELETE FROM customers WHERE customer_id = 'C1'")
    insert_customer(store, 7)
    counted = status(store)["entities"]["customers"]
    assert counted["staged"] == 4
    assert counted["pending"] == 2 and counted["synced"] == 2
    run(store, emulator)
    counted = status(store)["entities"]["customers"]
    assert counted["pending"] == 0 and counted["synced"] == 4
    # Deleted and staged again: counted once.
    insert_customer(store, 1)
    counted = status(store)["entities"]["customers"]
    assert counted["staged"] == 5 and counted["pending"] == 0 and counted["synced"] == 5


def test_a_mark_never_moves_past_a_window_another_run_holds_open(store: Store) -> None:
    feed = ChangeFeed(store.engine)
    insert_customer(store, 1)
    slow = feed.open("customers")
    insert_customer(store, 2)
    quick = feed.open("customers")
    assert quick.safe > slow.safe
    assert feed.close(quick, processed=True) == slow.safe
    assert feed.close(slow, processed=True) == slow.safe
    again = feed.open("customers")
    assert feed.counts(again) == (1, 0)  # C2, which only the quick run had read
    feed.close(again, processed=False)


def test_a_window_left_open_by_a_killed_process_is_dropped(store: Store) -> None:
    feed = ChangeFeed(store.engine)
    insert_customer(store, 1)
    dead = feed.open("customers")
    with store.engine.begin() as conn:  # as if its process had been SIGKILLed
        conn.execute(schema.change_readers.update().values(pid=2**22 + 12345))
    insert_customer(store, 2)
    window = feed.open("customers")
    assert feed.close(window, processed=True) == window.safe > dead.safe


def test_since_mark_lists_what_the_next_run_will_read_and_moves_nothing(
        store: Store, emulator: EmulatorServer) -> None:
    for i in range(3):
        insert_customer(store, i)
    run(store, emulator)
    feed = ChangeFeed(store.engine)
    assert list(feed.since_mark("customers")) == []
    sql(store, "UPDATE customers SET first_name = 'Next' WHERE customer_id = 'C2'")
    frames = list(feed.since_mark("customers"))
    assert [f["customer_id"].tolist() for f in frames] == [["C2"]]
    assert to_read(store)["customers"] == (1, 0)


def test_marks_from_a_clock_that_went_back_are_not_trusted(store: Store) -> None:
    """A store restored into another database (or given another store's marks) may
    stamp new writes below its old marks: those marks are dropped, not trusted."""
    insert_customer(store, 1)
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO dotsync_change_marks (entity, mark) "
                             "VALUES ('customers', 4000000000000)"))
    feed = ChangeFeed(store.engine)
    window = feed.open("customers")
    assert window.low == 0 and feed.counts(window) == (1, 0)
    assert feed.close(window, processed=True) == window.safe
    assert feed.mark("customers") == window.safe


def test_backfill_since_reads_only_changes_and_leaves_older_ones_to_the_sync(
        store: Store, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from dotsync.sync.engine import SyncEngine
    from dotsync.sync.run import run_backfill
    from tests.reliability.harness import backfill_options, make_client

    for i in range(4):
        insert_customer(store, i)
    settings = settings_for(emulator, "unused")

    def backfill(since: str | None) -> Any:
        with make_client(settings) as client:
            engine = SyncEngine(store, settings, client, options=backfill_options(),
                                flow="backfill")
            return run_backfill(engine, since=since, chunk_rows=2)

    backfill(None)
    assert to_read(store) == dict.fromkeys(schema.ENTITIES, (0, 0))  # marks moved
    sql(store, "UPDATE customers SET first_name = 'Recent', "
               "updated_at = '2026-11-20T00:00:00Z' WHERE customer_id = 'C1'")
    sql(store, "UPDATE customers SET first_name = 'Old' WHERE customer_id = 'C2'")
    def no_full_read(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("backfill --since read the whole table")

    monkeypatch.setattr(store, "iter_staged", no_full_read)
    report = backfill("2026-11-01")
    assert report.counts["contacts"].sent == 1
    assert first_name(emulator, 1) == "Recent" and first_name(emulator, 2) == "Ann"
    # --since moved no mark: the older change is still the next sync's.
    assert to_read(store)["customers"] == (2, 0)
    run(store, emulator)
    assert first_name(emulator, 2) == "Old"
