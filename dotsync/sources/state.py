"""The connectors' own bookkeeping in the staging database.

- ``source_watermarks``: per source and entity, the platform modification time up to
  which every object has been fetched *and committed* to the staging tables. It moves
  only after the rows are committed, so a crash in between fetches again, never skips.
- ``source_keys``: platform ids that differ from the staging key (an Adobe Commerce
  order's ``entity_id`` → its ``increment_id``), so credit memos find their order.
- ``source_refunds``: one row per refund document (an Adobe Commerce credit memo)
  with its amount; an order's ``refunded`` is their sum, so loading a credit memo
  twice counts it once.
- ``source_shipments``: one row per shipment document (an Adobe Commerce shipment)
  with the quantity that left and when; an order's shipped quantity is their sum.

These tables are new (no earlier version had them): they are part of the store's
schema, created with it (or by ``ensure`` for a store opened earlier), and need no
migration step; ``dotsync migrate`` copies them with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa

from dotsync.sources.base import EXACT
from dotsync.store import schema

#: The tables live in the store's schema (created with it, copied by ``dotsync migrate``).
metadata = schema.metadata
watermarks = schema.source_watermarks
keys = schema.source_keys
refunds = schema.source_refunds
shipments = schema.source_shipments
_TABLES = [watermarks, keys, refunds, shipments]


def ensure(engine: sa.Engine) -> None:
    """Create the tables where a store opened before they existed lacks them."""
    metadata.create_all(engine, tables=_TABLES, checkfirst=True)


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict], key: list[str]) -> None:
    """Insert or replace ``rows``: ``INSERT … ON CONFLICT DO UPDATE`` on SQLite and
    PostgreSQL (one statement per batch), delete-then-insert elsewhere."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        stmt = insert(table)
        others = [c.name for c in table.columns if c.name not in key]
        stmt = stmt.on_conflict_do_update(index_elements=key,
                                          set_={c: stmt.excluded[c] for c in others})
        for start in range(0, len(rows), 5_000):
            conn.execute(stmt, rows[start:start + 5_000])
        return
    for row in rows:
        conn.execute(table.delete().where(*[table.c[k] == row[k] for k in key]))
        conn.execute(table.insert(), [row])


def remember_keys(engine: sa.Engine, source: str, entity: str,
                  pairs: Iterable[tuple[str, str]]) -> None:
    rows = [{"source": source, "entity": entity, "platform_id": p, "key": k}
            for p, k in pairs]
    with engine.begin() as conn:
        _upsert(conn, keys, rows, ["source", "entity", "platform_id"])


def lookup_keys(engine: sa.Engine, source: str, entity: str,
                platform_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(platform_ids))
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), 900):
            part = wanted[start:start + 900]
            for pid, key in conn.execute(
                sa.select(keys.c.platform_id, keys.c.key).where(
                    keys.c.source == source, keys.c.entity == entity,
                    keys.c.platform_id.in_(part))):
                found[pid] = key
    return found


def record_refunds(engine: sa.Engine, source: str,
                   items: list[tuple[str, str, Decimal]]) -> dict[str, Decimal]:
    """Store (refund_id, order_ref, amount) rows; return each touched order's sum."""
    rows = [{"source": source, "refund_id": r, "order_ref": o, "amount": format(a, "f")}
            for r, o, a in items]
    orders = sorted({o for _, o, _ in items})
    sums: dict[str, Decimal] = dict.fromkeys(orders, Decimal(0))
    with engine.begin() as conn:
        _upsert(conn, refunds, rows, ["source", "refund_id"])
        for start in range(0, len(orders), 900):
            part = orders[start:start + 900]
            for order_ref, amount in conn.execute(
                sa.select(refunds.c.order_ref, refunds.c.amount).where(
                    refunds.c.source == source, refunds.c.order_ref.in_(part))):
                sums[order_ref] = EXACT.add(sums[order_ref], Decimal(amount))
    return sums


def refund_sums(engine: sa.Engine, source: str, order_refs: Iterable[str]) -> dict[str, Decimal]:
    """The sum of the recorded refund documents of each order that has any."""
    wanted = sorted(set(order_refs))
    sums: dict[str, Decimal] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), 900):
            part = wanted[start:start + 900]
            for order_ref, amount in conn.execute(
                sa.select(refunds.c.order_ref, refunds.c.amount).where(
                    refunds.c.source == source, refunds.c.order_ref.in_(part))):
                sums[order_ref] = EXACT.add(sums.get(order_ref, Decimal(0)), Decimal(amount))
    return sums


def record_shipments(engine: sa.Engine, source: str,
                     items: list[tuple[str, str, Decimal, str]]
                     ) -> dict[str, tuple[Decimal, str]]:
    """Store (shipment_id, order_ref, qty, shipped_at) rows; return each touched
    order's shipped quantity and its latest shipment time."""
    rows = [{"source": source, "shipment_id": s, "order_ref": o, "qty": format(q, "f"),
             "shipped_at": t} for s, o, q, t in items]
    orders = sorted({o for _, o, _, _ in items})
    found: dict[str, tuple[Decimal, str]] = {}
    with engine.begin() as conn:
        _upsert(conn, shipments, rows, ["source", "shipment_id"])
        for start in range(0, len(orders), 900):
            part = orders[start:start + 900]
            for order_ref, qty, at in conn.execute(
                sa.select(shipments.c.order_ref, shipments.c.qty,
                          shipments.c.shipped_at).where(
                    shipments.c.source == source, shipments.c.order_ref.in_(part))):
                total, latest = found.get(order_ref, (Decimal(0), ""))
                found[order_ref] = (EXACT.add(total, Decimal(qty)), max(latest, at))
    return found


def get_watermark(engine: sa.Engine, source: str, entity: str) -> str | None:
    ensure(engine)
    with engine.connect() as conn:
        return conn.execute(sa.select(watermarks.c.watermark).where(
            watermarks.c.source == source, watermarks.c.entity == entity)).scalar()


def set_watermark(engine: sa.Engine, source: str, entity: str, value: str) -> None:
    from datetime import UTC, datetime

    with engine.begin() as conn:
        _upsert(conn, watermarks, [{"source": source, "entity": entity, "watermark": value,
                                    "updated_at": datetime.now(UTC)}], ["source", "entity"])
