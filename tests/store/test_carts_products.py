"""The ``carts`` and ``products`` staging tables (SPEC §1, schema version 7): loaded
through ``dotsync load``, change-stamped like the other staged tables, and added to an
existing store in place."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.store import Store, keys, migrations, schema
from dotsync.store.changes import ChangeFeed
from dotsync.store.loader import load_file

CART = {"cart_id": "K1", "customer_email": "jo@example.com", "currency": "EUR",
        "lines": json.dumps([{"name": "Mug", "quantity": 1, "unit_price": "9.50"}]),
        "subtotal": "9.50", "total": "9.50", "url": "https://shop.example/cart/K1",
        "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:05:00Z"}


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _product(sku: str, store: str, price: str = "10.00", status: str = "enabled") -> dict:
    return {"sku": sku, "store": store, "name": f"Item {sku}", "price": price,
            "currency": "GBP", "status": status, "updated_at": "2026-01-01T00:00:00Z"}


def _changed(store: Store, entity: str) -> list[str]:
    feed = ChangeFeed(store.engine)
    window = feed.open(entity)
    try:
        return sorted(k for frame in feed.changed(window, 100)
                      for k in keys.of_frame(entity, frame))
    finally:
        feed.close(window, processed=True)


def test_carts_load_and_are_stamped(store: Store, tmp_path) -> None:
    report = load_file(store, "carts", _jsonl(tmp_path / "carts.jsonl",
                                              [CART, {**CART, "cart_id": "K2"}]))
    assert (report.counts.inserted, report.problems) == (2, [])
    assert _changed(store, "carts") == ["K1", "K2"]
    # Unchanged rows are not written again, so not stamped again; a change is.
    load_file(store, "carts", _jsonl(tmp_path / "again.jsonl",
                                     [CART, {**CART, "cart_id": "K2", "total": "12.00"}]))
    assert _changed(store, "carts") == ["K2"]
    assert store.read_staged("carts", ["K2"])["total"].tolist() == ["12.00"]


def test_products_are_keyed_by_store_and_sku(store: Store, tmp_path) -> None:
    rows = [_product("S1", "uk"), _product("S1", "de"), _product("S2", "uk")]
    report = load_file(store, "products", _jsonl(tmp_path / "p.jsonl", rows))
    assert report.counts.inserted == 3
    assert _changed(store, "products") == sorted(
        ["uk\x1fS1", "de\x1fS1", "uk\x1fS2"])
    report = load_file(store, "products", _jsonl(tmp_path / "p2.jsonl", [
        _product("S1", "de", status="disabled"), _product("S2", "uk")]))
    assert (report.counts.updated, report.counts.unchanged) == (1, 1)
    assert _changed(store, "products") == ["de\x1fS1"]
    staged = store.read_staged("products", ["de\x1fS1"])
    assert staged[["sku", "store", "status"]].values.tolist() == [["S1", "de", "disabled"]]
    assert keys.split("products", "de\x1fS1") == {"store": "de", "sku": "S1"}


def test_a_direct_sql_write_to_products_is_stamped_too(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.products.insert().values(sku="X", store="fr", status="enabled"))
    assert _changed(store, "products") == ["fr\x1fX"]
    with store.engine.begin() as conn:
        conn.execute(schema.products.update().where(schema.products.c.sku == "X")
                     .values(store="be"))
        conn.execute(schema.products.delete().where(schema.products.c.sku == "nothing"))
    assert _changed(store, "products") == ["be\x1fX"]
    with store.engine.connect() as conn:
        gone = conn.execute(sa.select(schema.changes.c.deleted).where(
            schema.changes.c.key == "fr\x1fX")).scalar_one()
    assert gone == 1  # the old key is noted as gone


def test_a_product_without_store_or_with_the_separator_is_a_row_problem(
        store: Store, tmp_path) -> None:
    rows = [{**_product("S1", "uk"), "store": None}, _product("S\x1f2", "uk"),
            _product("S3", "uk")]
    report = load_file(store, "products", _jsonl(tmp_path / "p.jsonl", rows))
    assert report.counts.inserted == 1
    assert [(p.line, p.field) for p in report.problems] == [(1, "store"), (2, "sku")]
    assert "store is required" in report.problems[0].reason
    assert "U+001F" in report.problems[1].reason


def test_unknown_cart_column_names_the_column(store: Store, tmp_path) -> None:
    report = load_file(store, "carts", _jsonl(tmp_path / "c.jsonl",
                                              [{**CART, "coupon": "X"}]))
    assert report.counts.inserted == 0
    assert "'coupon'" in report.problems[0].reason


def test_a_version_6_store_gains_carts_and_products_in_place(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'v6.db'}"
    old = Store(url)
    old.upsert_staged("orders", _order_frame())
    old.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name in ("carts", "products"):
            conn.execute(sa.text(f"DROP TABLE {name}"))
            for kind in ("insert", "update", "delete"):
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS dotsync_stamp_{name}_{kind}"))
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '6' "
                             "WHERE name = 'schema_version'"))
    engine.dispose()
    store = Store(url)
    try:
        assert store.schema_version == migrations.SCHEMA_VERSION == 7
        assert store.read_staged("orders")["order_id"].tolist() == ["O1"]
        store.upsert_staged("carts", _frame("carts", CART))
        assert _changed(store, "carts") == ["K1"]
        with store.engine.connect() as conn:  # reflection skips expression indexes
            names = set(conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'products'")).scalars())
        assert "ix_products_key" in names
    finally:
        store.dispose()


@pytest.mark.postgres
def test_postgres_store_upgrades_from_version_6(postgres_store: Store) -> None:
    store = postgres_store
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE carts CASCADE"))
        conn.execute(sa.text("DROP TABLE products CASCADE"))
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '6' "
                             "WHERE name = 'schema_version'"))
    assert migrations.migrate(store.engine) == 7
    store.upsert_staged("products", _frame("products", _product("S1", "uk")))
    assert _changed(store, "products") == ["uk\x1fS1"]


def _frame(entity: str, row: dict):
    import pandas as pd

    return pd.DataFrame([{c: row.get(c) for c in schema.ENTITY_COLUMNS[entity]}],
                        dtype=object)


def _order_frame():
    return _frame("orders", {"order_id": "O1", "customer_email": "jo@example.com",
                             "status": "paid", "currency": "EUR", "total": "1",
                             "placed_at": "2026-01-01", "updated_at": "2026-01-01",
                             "lines": "[]"})


def test_migrate_copies_carts_and_products_and_the_target_stamps_them(
        sqlite_store: Store, tmp_path) -> None:
    from dotsync.store.transfer import copy_store

    sqlite_store.upsert_staged("carts", _frame("carts", CART))
    sqlite_store.upsert_staged("products", _frame("products", _product("S1", "uk")))
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        report = copy_store(sqlite_store, target, chunk_rows=5)
        assert not report.failed
        copied = {t.table: t.copied for t in report.tables}
        assert (copied["carts"], copied["products"]) == (1, 1)
        assert _changed(target, "products") == ["uk\x1fS1"]
        assert _changed(target, "carts") == ["K1"]
    finally:
        target.dispose()


_part = st.text(min_size=1, max_size=12).filter(
    lambda s: s.strip() != "" and keys.SEPARATOR not in s)


@settings(max_examples=200)
@given(store=_part, sku=_part)
def test_a_products_text_key_splits_back_into_its_parts(store: str, sku: str) -> None:
    key = keys.of_values("products", {"store": store, "sku": sku})
    assert key is not None
    assert keys.split("products", key) == {"store": store, "sku": sku}
    assert keys.display(key) == f"{store} / {sku}"


def test_the_ledger_tells_which_products_are_pending_by_their_text_key(
        store: Store) -> None:
    from dotsync.store import Ledger
    from dotsync.store.status import pending_mask, source_hashes

    store.upsert_staged("products", _frame("products", _product("S1", "uk")))
    store.upsert_staged("products", _frame("products", _product("S1", "de")))
    staged = store.read_staged("products")
    ledger = Ledger(store)
    assert pending_mask(ledger, "products", staged).tolist() == [True, True]
    hashes = dict(zip(keys.of_frame("products", staged), source_hashes("products", staged),
                      strict=True))
    ledger.record("products", [{"key": "uk\x1fS1", "state": "synced",
                                "source_hash": hashes["uk\x1fS1"]}])
    mask = pending_mask(ledger, "products", staged)
    assert dict(zip(staged["store"], mask, strict=True)) == {"uk": False, "de": True}
