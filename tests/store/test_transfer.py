"""dotsync migrate: every table copied between SQLite and PostgreSQL, verified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from dotsync.store import Ledger, Store, schema
from dotsync.store.frames import as_text
from dotsync.store.migrations import SCHEMA_VERSION
from dotsync.store.transfer import TransferError, content_hash, copy_store, existing_rows

DIRECTIONS = [
    pytest.param(("sqlite_store", "postgres_store"), marks=pytest.mark.postgres,
                 id="sqlite-to-postgres"),
    pytest.param(("postgres_store", "sqlite_store2"), marks=pytest.mark.postgres,
                 id="postgres-to-sqlite"),
    pytest.param(("sqlite_store", "sqlite_store2"), id="sqlite-to-sqlite"),
]


@pytest.fixture
def sqlite_store2(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'other.db'}")
    yield store
    store.dispose()


def fill(store: Store, customers: int = 30) -> None:
    rows = [{"customer_id": f"c{i}", "email": f"u{i}@example.com", "first_name": "Zoë ✓",
             "updated_at": "2024-05-01T10:00:00Z"} for i in range(customers)]
    columns = schema.ENTITY_COLUMNS["customers"]
    store.upsert_staged("customers", pd.DataFrame(
        [{c: as_text(r.get(c)) for c in columns} for r in rows], columns=list(columns),
        dtype=object))
    ledger = Ledger(store)
    sent = datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
    ledger.record("certificates", [
        {"key": f"G{i}", "state": "synced", "sent_at": sent + timedelta(minutes=i),
         "payload_hash": "ab" * 8, "detail": None} for i in range(25)], run_id="run-1")
    ledger.record("certificates", [{"key": "G99", "state": "in_doubt",
                                    "error_message": "send started"}])
    ledger.record("confirmations", [{"key": "O1", "state": "synced", "sent_at": sent}])
    with store.engine.begin() as conn:
        conn.execute(schema.suppressions.insert().values(
            email="gone@example.com", kind="unsubscribed", reason="link",
            date_removed=sent, recorded_at=sent))
        conn.execute(schema.runs.insert().values(
            run_id="run-1", flow="sync", started_at=sent, finished_at=sent,
            status="completed", summary='{"ok": true}'))
        conn.execute(schema.meta.insert().values(name="consent_watermark",
                                                 value="2024-06-01T00:00:00Z"))
        # The connectors' bookkeeping moves too: a lost credit memo would change an
        # order's refunded sum when the memos are loaded again.
        conn.execute(schema.source_watermarks.insert().values(
            source="shop", entity="orders", watermark="2024-06-01T00:00:00+00:00",
            updated_at=sent))
        conn.execute(schema.source_keys.insert().values(
            source="shop", entity="orders", platform_id="17", key="000000017"))
        conn.execute(schema.source_refunds.insert().values(
            source="shop", refund_id="cm-1", order_ref="000000017", amount="12.50"))
        conn.execute(schema.source_shipments.insert().values(
            source="shop", shipment_id="s-1", order_ref="17", qty="2",
            shipped_at="2024-06-01T12:00:00+00:00"))


@pytest.mark.parametrize("pair", DIRECTIONS)
def test_every_table_is_copied_and_verified(request, pair):
    source = request.getfixturevalue(pair[0])
    target = request.getfixturevalue(pair[1])
    fill(source)
    report = copy_store(source, target, chunk_rows=7)
    assert not report.failed
    by_name = {t.table: t for t in report.tables}
    # Every table but the change stamps, which belong to the database they were taken
    # in: the target's own triggers stamp the copied rows.
    assert set(by_name) == {t.name for t in schema.metadata.sorted_tables
                            if t.name not in schema.LOCAL_TABLES}
    with target.engine.connect() as conn:
        stamped = conn.execute(sa.select(sa.func.count()).select_from(schema.changes).where(
            schema.changes.c.entity == "customers")).scalar_one()
    assert stamped == 30
    assert by_name["customers"].copied == 30 and by_name["ledger"].copied == 27
    assert by_name["dotsync_meta"].copied == 1  # the watermark, not the schema version
    for table in ("source_watermarks", "source_keys", "source_refunds", "source_shipments"):
        assert by_name[table].copied == 1, table
    with target.engine.connect() as conn:
        assert conn.execute(sa.select(schema.source_refunds.c.amount)).scalar_one() == "12.50"
    assert Ledger(target).states("certificates")["G3"] == "synced"
    assert Ledger(target).states("certificates")["G99"] == "in_doubt"
    sent = pd.Timestamp(Ledger(target).frame("certificates", ["G3"]).iloc[0]["sent_at"])
    sent = sent.tz_localize("UTC") if sent.tzinfo is None else sent  # SQLite keeps UTC
    assert sent == pd.Timestamp("2024-06-01T12:33:15.123456Z")
    with target.engine.connect() as conn:
        version = conn.execute(sa.select(schema.meta.c.value).where(
            schema.meta.c.name == "schema_version")).scalar_one()
    assert version == str(SCHEMA_VERSION)
    assert target.read_staged("customers").set_index("customer_id").loc[
        "c7", "first_name"] == "Zoë ✓"


def test_a_target_holding_data_is_refused_unless_forced(sqlite_store, sqlite_store2):
    fill(sqlite_store)
    Ledger(sqlite_store2).record("certificates", [{"key": "OLD", "state": "synced"}])
    with pytest.raises(TransferError, match=r"ledger \(1 rows\)"):
        copy_store(sqlite_store, sqlite_store2)
    assert Ledger(sqlite_store2).states("certificates") == {"OLD": "synced"}
    report = copy_store(sqlite_store, sqlite_store2, force=True)
    assert report.replaced == {"ledger": 1} and not report.failed
    assert "OLD" not in Ledger(sqlite_store2).states("certificates")


def test_a_fresh_target_counts_as_empty(sqlite_store2):
    assert existing_rows(sqlite_store2) == {}


def test_the_hash_sees_a_changed_value_and_ignores_row_order(sqlite_store, sqlite_store2):
    fill(sqlite_store)
    copy_store(sqlite_store, sqlite_store2)
    before = content_hash(sqlite_store2, schema.ledger, chunk_rows=3)
    assert before == content_hash(sqlite_store, schema.ledger, chunk_rows=1000)
    Ledger(sqlite_store2).record("certificates", [{"key": "G5", "state": "synced",
                                                   "detail": "x"}])
    assert content_hash(sqlite_store2, schema.ledger)[1] != before[1]


def test_a_copy_that_does_not_verify_names_the_table(sqlite_store, sqlite_store2,
                                                     monkeypatch):
    fill(sqlite_store)
    import dotsync.store.transfer as transfer

    real = transfer._for_target

    def lossy(table, dialect):
        convert = real(table, dialect)
        if table.name != "suppressions":
            return convert
        return lambda row: {**convert(row), "reason": "changed on the way"}

    monkeypatch.setattr(transfer, "_for_target", lossy)
    report = copy_store(sqlite_store, sqlite_store2)
    assert report.failed == ["suppressions"]


@pytest.mark.postgres
def test_postgres_target_in_another_schema_by_url(sqlite_store):
    """The CLI's way: a URL whose search_path names the schema."""
    from tests.conftest import postgres_schema_url

    with postgres_schema_url() as url:
        target = Store(url)
        fill(sqlite_store, customers=5)
        assert not copy_store(sqlite_store, target).failed
        assert target.count_staged("customers") == 5
        target.dispose()
