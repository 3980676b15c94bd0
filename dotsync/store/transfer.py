"""``dotsync migrate --to URL``: copy a staging store to another database, verified.

Exactly once (certificates, order confirmations) rests on the ledger: a store moved
to another database without it would send everything again. This copies every table
of the store's schema (the staged records, the ledger, runs, suppressions and every
table added later, because it walks :data:`schema.metadata`), plus the bookkeeping
rows of ``dotsync_meta`` except the target's own schema version, between any two
databases dotsync supports (SQLite and PostgreSQL, either way).

* Rows are streamed ``chunk_rows`` at a time, so memory stays flat.
* A target that already holds rows is refused unless ``force``; then its rows are
  replaced (deleted first, in the same transaction as the copy).
* The copy is one transaction on the target: a failure leaves the target as it was.
* Afterwards each table is read again on both sides and compared by row count and an
  order-independent content hash (the sum of each row's SHA-256 prefix over its
  canonical values; timestamps compared as UTC instants). A mismatch names the table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from dotsync import failpoints
from dotsync.store import schema
from dotsync.store.db import Store

#: The row of ``dotsync_meta`` that belongs to the database itself, never copied.
OWN_META = frozenset({"schema_version"})


class TransferError(Exception):
    """The copy cannot start: the target holds data."""


@dataclass(frozen=True)
class TableResult:
    table: str
    copied: int
    source_rows: int
    target_rows: int
    source_hash: str
    target_hash: str

    @property
    def verified(self) -> bool:
        return (self.source_rows, self.source_hash) == (self.target_rows, self.target_hash)

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "copied": self.copied, "source_rows": self.source_rows,
                "target_rows": self.target_rows, "source_hash": self.source_hash,
                "target_hash": self.target_hash, "verified": self.verified}


@dataclass
class TransferReport:
    source: str
    target: str
    replaced: dict[str, int] = field(default_factory=dict)
    tables: list[TableResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [t.table for t in self.tables if not t.verified]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "replaced": self.replaced,
                "tables": [t.as_dict() for t in self.tables], "verified": not self.failed,
                "failed_tables": self.failed}


def tables() -> list[sa.Table]:
    """Every table of the store, parents before children."""
    return list(schema.metadata.sorted_tables)


def _rows_filter(table: sa.Table, meta_names: list[str] | None = None) -> Any:
    """Which rows of ``table`` belong to the store's content: all but the database's own
    meta rows (and, given ``meta_names``, only those meta rows)."""
    if table is schema.meta:
        if meta_names is not None:
            return table.c.name.in_(meta_names)
        return table.c.name.notin_(sorted(OWN_META))
    return sa.true()


def existing_rows(store: Store) -> dict[str, int]:
    """``{table: rows}`` of every store table that holds content rows (bookkeeping rows
    of ``dotsync_meta`` do not count: the copy overwrites them by name)."""
    out: dict[str, int] = {}
    with store.engine.connect() as conn:
        for table in tables():
            if table is schema.meta:
                continue
            n = int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                 .where(_rows_filter(table))).scalar_one())
            if n:
                out[table.name] = n
    return out


def _describe(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _utc(value: datetime) -> datetime:
    """SQLite keeps UTC without an offset; PostgreSQL gives aware values: one instant."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _for_target(table: sa.Table, dialect: str) -> Callable[[Mapping[str, Any]], dict]:
    """Row values as the target's columns store them (timestamps as UTC instants)."""
    times = [c.name for c in table.columns if isinstance(c.type, sa.DateTime)]

    def convert(row: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(row)
        for name in times:
            value = values.get(name)
            if isinstance(value, datetime):
                value = _utc(value)
                values[name] = value.replace(tzinfo=None) if dialect == "sqlite" else value
        return values

    return convert


def _stream(store: Store, table: sa.Table, chunk_rows: int,
            meta_names: list[str] | None = None) -> Iterator[list[dict]]:
    query = sa.select(table).where(_rows_filter(table, meta_names))
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
        for part in result.mappings().partitions(chunk_rows):
            yield [dict(r) for r in part]


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def content_hash(store: Store, table: sa.Table, chunk_rows: int = 20_000,
                 meta_names: list[str] | None = None) -> tuple[int, str]:
    """``(rows, hash)`` of a table's content, independent of row order and dialect."""
    names = sorted(c.name for c in table.columns)
    total = 0
    count = 0
    for part in _stream(store, table, chunk_rows, meta_names):
        for row in part:
            text = json.dumps([_canonical(row[n]) for n in names], ensure_ascii=False,
                              separators=(",", ":"))
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
            total = (total + int.from_bytes(digest[:16], "big")) % (1 << 128)
            count += 1
    return count, f"{total:032x}"


def copy_store(source: Store, target: Store, *, force: bool = False, chunk_rows: int = 20_000,
               progress: Callable[[str, int], None] | None = None) -> TransferReport:
    """Copy every table of ``source`` into ``target`` and verify each one."""
    report = TransferReport(source=_describe(source), target=_describe(target))
    present = existing_rows(target)
    if present and not force:
        held = ", ".join(f"{name} ({n} rows)" for name, n in present.items())
        raise TransferError(
            f"the target already holds data: {held}. Nothing was copied. Use an empty "
            "database, or --force to replace its contents with the staging store's")
    dialect = target.engine.dialect.name
    copied: dict[str, int] = {}
    with target.engine.begin() as conn:
        for table in reversed(tables()):  # children first, should foreign keys appear
            if table.name in present:
                report.replaced[table.name] = conn.execute(
                    table.delete().where(_rows_filter(table))).rowcount
        for table in tables():
            convert = _for_target(table, dialect)
            n = 0
            for part in _stream(source, table, chunk_rows):
                if table is schema.meta:  # the target's own rows of the same name go
                    conn.execute(table.delete().where(table.c.name.in_(
                        [r["name"] for r in part])))
                conn.execute(table.insert(), [convert(r) for r in part])
                failpoints.hit("migrate_copy")
                n += len(part)
                if progress is not None:
                    progress(table.name, n)
            copied[table.name] = n
    with source.engine.connect() as conn:
        meta_names = list(conn.execute(sa.select(schema.meta.c.name).where(
            _rows_filter(schema.meta))).scalars())
    for table in tables():
        names = meta_names if table is schema.meta else None
        source_rows, source_hash = content_hash(source, table, chunk_rows, names)
        target_rows, target_hash = content_hash(target, table, chunk_rows, names)
        report.tables.append(TableResult(table.name, copied[table.name], source_rows,
                                         target_rows, source_hash, target_hash))
    return report
