"""Alembic takes over from the old version table: new stores are created at head, a
store the old code left at any version 1..7 upgrades in place, on SQLite and
PostgreSQL (each test in a schema of its own)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dotsync.store import Ledger, Store, migrations, revisions, schema
from dotsync.store.changes import ChangeFeed
from tests.conftest import _postgres_or_skip, postgres_schema_url
from tests.e2e.helpers import stage

SNAPSHOTS = Path(__file__).with_name("snapshots")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> Iterator[str]:
    """A URL for an empty database: a SQLite file, or a PostgreSQL schema named in the
    URL's search_path (the way the CLI is pointed at one account's store)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_schema_url() as schema_url:
        yield schema_url


def _old_store(url: str, version: int) -> None:
    """A store as the old code left it at ``version``: version 1's tables (a snapshot of
    the first release's schema) with rows in them, brought to ``version`` by the old
    steps, stamped in ``dotsync_meta``."""
    engine = sa.create_engine(url)
    ddl = (SNAPSHOTS / f"v1_{engine.dialect.name}.sql").read_text()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            body = "\n".join(line for line in statement.splitlines()
                             if not line.startswith("--")).strip()
            if body:
                conn.exec_driver_sql(body)
        conn.execute(sa.text("INSERT INTO customers (customer_id, email, updated_at) "
                             "VALUES ('C1', 'jo@example.com', '2024-01-01T00:00:00Z')"))
        conn.execute(sa.text("INSERT INTO orders (order_id, customer_email, total) "
                             "VALUES ('O1', 'jo@example.com', '9.99')"))
        conn.execute(sa.text("INSERT INTO ledger (entity, key, state, attempts) "
                             "VALUES ('customers', 'C1', 'synced', 1)"))
        for step in range(2, version + 1):
            migrations.STEPS[step](conn)
        conn.execute(sa.text("INSERT INTO dotsync_meta (name, value) "
                             "VALUES ('schema_version', :v)"), {"v": str(version)})
    engine.dispose()


def _meta_version(store: Store) -> str:
    with store.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT value FROM dotsync_meta WHERE name = 'schema_version'")).scalar_one()


def _revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return revisions.current(conn)


def test_a_new_store_is_created_at_head_with_its_version_table_in_its_schema(url):
    store = Store(url)
    assert _revision(store) == revisions.head()
    assert _meta_version(store) == str(migrations.SCHEMA_VERSION)
    inspector = sa.inspect(store.engine)
    assert {t.name for t in schema.metadata.sorted_tables} <= set(inspector.get_table_names())
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            where = conn.execute(sa.text(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'alembic_version'")).scalars().all()
            assert where == [revisions.version_schema(conn)]
    store.dispose()


@pytest.mark.parametrize("version", range(1, migrations.SCHEMA_VERSION + 1))
def test_a_store_from_any_old_version_upgrades_in_place(url, version):
    _old_store(url, version)
    store = Store(url)
    assert _revision(store) == revisions.head()
    assert _meta_version(store) == str(migrations.SCHEMA_VERSION)
    customers = store.read_staged("customers")
    assert customers["customer_id"].tolist() == ["C1"]
    assert customers["email"].tolist() == ["jo@example.com"]
    assert customers["consent_text"].isna().all()
    assert store.read_staged("orders")["total"].tolist() == ["9.99"]
    assert Ledger(store).states("customers") == {"C1": "synced"}
    # Rows from before the change stamps are read once by the next run ...
    feed = ChangeFeed(store.engine)
    assert [f["customer_id"].tolist() for f in feed.since_mark("customers")] == [["C1"]]
    # ... and the triggers stamp what is written after the upgrade.
    stage(store, "customers", [{"customer_id": "C2", "email": "sam@example.com"}])
    stage(store, "carts", [{"cart_id": "K1", "customer_email": "sam@example.com"}])
    with store.engine.connect() as conn:
        stamped = {key: stamp for key, stamp in conn.execute(
            sa.select(schema.changes.c.key, schema.changes.c.stamp))}
    assert stamped["C2"] > 0 and stamped["K1"] > 0
    # Ledger keys are unbounded text (version 2) on every dialect now.
    Ledger(store).record("orders", [{"key": "O" * 600, "state": "synced"}])
    assert ("O" * 600) in Ledger(store).states("orders")
    store.dispose()


def test_upgrading_twice_changes_nothing(url):
    Store(url).dispose()
    store = Store(url)
    seen: list[str] = []

    def watch(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement.strip().split()[0].upper())

    sa.event.listen(store.engine, "before_cursor_execute", watch)
    assert migrations.migrate(store.engine) == migrations.SCHEMA_VERSION
    sa.event.remove(store.engine, "before_cursor_execute", watch)
    assert seen, "the upgrade looked at the database"
    assert not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"} & set(seen), seen
    assert _revision(store) == revisions.head()
    store.dispose()


def test_a_revision_this_dotsync_does_not_know_is_refused(url):
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(migrations.SchemaTooNewError, match="f00d"):
        Store(url)
    store.dispose()


@pytest.mark.postgres
def test_concurrent_openings_of_a_fresh_postgres_store_do_not_race():
    base = _postgres_or_skip()
    name = f"alembic14_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    url = f"{base}?options=-csearch_path%3D{name}"
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        engine = sa.create_engine(url)
        start.wait()
        try:
            Store(url, engine=engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        with admin.connect() as conn:
            rows = conn.execute(sa.text(
                f'SELECT version_num FROM "{name}".alembic_version')).scalars().all()
        assert rows == [revisions.head()]
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_the_head_constant_is_the_newest_revision_script():
    assert revisions.scripts().get_current_head() == revisions.HEAD
    assert [r.revision for r in revisions.history()][-1] == revisions.BASELINE


def test_opening_a_store_at_head_does_not_load_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).dispose()
    code = ("import sys; from dotsync.store import Store; "
            f"Store({url!r}).dispose(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_a_version_7_store_gains_the_tables_added_without_a_version_step(url):
    store = Store(url)
    stage(store, "customers", [{"customer_id": "C1", "email": "jo@example.com"}])
    with store.engine.begin() as conn:  # as the old code left a store at version 7
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text("DROP TABLE source_shipments"))
    store.dispose()
    again = Store(url)
    assert "source_shipments" in sa.inspect(again.engine).get_table_names()
    assert again.read_staged("customers")["customer_id"].tolist() == ["C1"]
    assert _revision(again) == revisions.head()
    again.dispose()


def test_every_table_added_after_the_baseline_is_created_by_a_revision():
    """Existing stores get a new table only from a revision: one that names it."""
    scripts = "\n".join(p.read_text() for p in (revisions.SCRIPTS / "versions").glob("*.py")
                        if p.name != "0001_baseline.py")
    missing = [name for name in schema.metadata.tables
               if name not in revisions.BASELINE_TABLES and f'"{name}"' not in scripts
               and f"schema.{name}" not in scripts]
    assert missing == [], f"write a revision creating {missing} (docs/ARCHITECTURE.md)"


def _ledger_indexes(store: Store) -> set[str]:
    return {i["name"] for i in sa.inspect(store.engine).get_indexes("ledger")}


def test_a_store_at_0001_gains_the_error_code_index_and_loses_it_on_downgrade(url):
    from alembic import command

    from dotsync.sync.steps.enrolments import PROCESSING

    store = Store(url)
    Ledger(store).record("cart_enrolments", [
        {"key": "K1", "state": "synced", "error_code": None},
        {"key": "K2", "state": "synced", "error_code": PROCESSING}])
    with store.engine.begin() as conn:  # as revision 0001 left a store
        conn.execute(sa.text("DROP INDEX ix_ledger_entity_error_code"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    store.dispose()
    again = Store(url)
    assert _revision(again) == revisions.head()
    assert "ix_ledger_entity_error_code" in _ledger_indexes(again)
    with again.engine.connect() as conn:
        if again.dialect == "postgresql":  # partial: only the records with a code
            definition = conn.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = "
                "'ix_ledger_entity_error_code' AND schemaname = current_schema()")).scalar_one()
            assert "WHERE (error_code IS NOT NULL)" in definition, definition
        else:
            definition = conn.execute(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_ledger_entity_error_code'"
            )).scalar_one()
            assert "WHERE error_code IS NOT NULL" in definition, definition
    assert Ledger(again).states("cart_enrolments") == {"K1": "synced", "K2": "synced"}
    with again.engine.begin() as conn:
        command.downgrade(revisions.config(conn), "0001")
    assert "ix_ledger_entity_error_code" not in _ledger_indexes(again)
    assert _revision(again) == "0001"
    again.dispose()
    Store(url).dispose()  # and up again
    last = Store(url)
    assert "ix_ledger_entity_error_code" in _ledger_indexes(last)
    last.dispose()


def test_a_store_at_0002_loses_the_state_index_the_longer_one_covers(url):
    """Revision 0003 drops (entity, state), a prefix of (entity, state, key): every
    ledger write kept one b-tree more. Counting by state still reads an index, not
    the table, and a downgrade gives the index back."""
    from alembic import command

    store = Store(url)
    Ledger(store).record("orders", [{"key": "O1", "state": "synced"},
                                    {"key": "O2", "state": "failed"}])
    with store.engine.begin() as conn:  # as revision 0002 left a store
        conn.execute(sa.text(
            "CREATE INDEX ix_ledger_entity_state ON ledger (entity, state)"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
    store.dispose()
    again = Store(url)
    assert _revision(again) == revisions.head()
    indexes = _ledger_indexes(again)
    assert "ix_ledger_entity_state" not in indexes
    assert "ix_ledger_entity_state_key" in indexes
    counts = {k: n for k, n in Ledger(again).counts()["orders"].items() if n}
    assert counts == {"synced": 1, "failed": 1}
    if again.dialect == "sqlite":
        with again.engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM ledger "
                "WHERE entity = 'orders' AND state = 'failed'"))
        assert "COVERING INDEX ix_ledger_entity_state_key" in plan, plan
    with again.engine.begin() as conn:
        command.downgrade(revisions.config(conn), "0002")
    assert "ix_ledger_entity_state" in _ledger_indexes(again)
    assert _revision(again) == "0002"
    again.dispose()
    last = Store(url)
    assert "ix_ledger_entity_state" not in _ledger_indexes(last)
    last.dispose()
