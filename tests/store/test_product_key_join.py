"""The change feed joins a product's text key back on its key columns.

Joining ``store || U+001F || sku`` to the stamps' key made SQLite scan the products
table once per changed product (neither database matches such a join to the expression
index), so a 60,000-product load never finished reading its first chunk. The join is on
the key's parts now, through the primary key.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotsync.store import Ledger, Store, keys, schema
from dotsync.store.changes import ChangeFeed


def _products(rows: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame([{c: None for c in schema.ENTITY_COLUMNS["products"]}
                          for _ in rows], dtype=object)
    frame["store"] = [s for s, _ in rows]
    frame["sku"] = [k for _, k in rows]
    frame["updated_at"] = "2026-01-01T00:00:00Z"
    return frame


def _read(store: Store) -> tuple[list[str], list[str]]:
    feed = ChangeFeed(store.engine)
    window = feed.open("products")
    try:
        changed = [k for f in feed.changed(window, 7) for k in keys.of_frame("products", f)]
        retry = [k for f in feed.to_retry(window, 7) for k in keys.of_frame("products", f)]
    finally:
        feed.close(window, processed=True)
    return sorted(changed), sorted(retry)


_part = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1f\x00"),
                min_size=1, max_size=8).filter(lambda s: s.strip() != "")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_part, _part), min_size=1, max_size=20,
                     unique_by=lambda r: (r[0], r[1])))
def test_every_changed_product_is_read_back_by_its_key(store: Store, rows) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.products.delete())
    store.upsert_staged("products", _products(rows))
    changed, _ = _read(store)
    wanted = sorted(f"{s}{keys.SEPARATOR}{k}" for s, k in rows)
    assert [k for k in changed if k in wanted] == wanted


def test_a_product_to_retry_is_read_back_through_the_ledger(store: Store) -> None:
    store.upsert_staged("products", _products([("uk", "A/1"), ("de", "B 2")]))
    _read(store)  # the mark moves past both
    Ledger(store).record("products", [{"key": f"de{keys.SEPARATOR}B 2", "state": "failed"}])
    assert _read(store) == ([], [f"de{keys.SEPARATOR}B 2"])


def test_the_sqlite_join_searches_products_by_their_primary_key(sqlite_store: Store) -> None:
    table, ch = schema.products, schema.changes
    query = (sa.select(ch.c.key, table.c.sku)
             .select_from(ch.join(table, keys.join_on("products", table, ch.c.key)))
             .where(ch.c.entity == "products"))
    sql = str(query.compile(sqlite_store.engine, compile_kwargs={"literal_binds": True}))
    with sqlite_store.engine.connect() as conn:
        plan = [str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    assert any(p.startswith("SEARCH products") and "store=? AND sku=?" in p
               for p in plan), plan
    assert not any(p.startswith("SCAN products") for p in plan), plan
