"""The staging store: an SQLAlchemy database holding staged records and the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import keys as keys_
from dotsync.store import migrations, schema
from dotsync.store.frames import object_frame, row_hashes

_IN_CHUNK = 900  # keys per IN (...) list: under SQLite's default bound-parameter limit


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the settings dotsync relies on.

    SQLite gets a busy timeout so that two processes sharing a file wait for each
    other's short write transactions instead of failing at once.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30}, pool_use_lifo=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets a reader (``dotsync status``) run while a sync writes, and makes each
    of the ledger's many small commits cheap; a killed process loses nothing that
    was committed. A 32 MB page cache (SQLite's default is 2 MB) keeps the ledger's
    index pages in memory as it grows: writing 2 million ledger rows took a third
    less time with it."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-32768")
    finally:
        cursor.close()


class Store:
    """Staged records and dotsync's bookkeeping, in one database.

    Creating a Store creates or upgrades the schema (see :mod:`migrations`).
    """

    def __init__(self, url: str, *, engine: sa.Engine | None = None) -> None:
        self.url = url
        self.engine = engine or create_engine(url)
        self.schema_version = migrations.migrate(self.engine)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # -- staged records -------------------------------------------------------------

    def read_staged(self, entity: str, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Staged rows of ``entity`` (all of them, or those with ``keys``) as text."""
        table = schema.STAGING_TABLES[entity]
        key_col = keys_.expression(entity, table)
        cols = list(schema.ENTITY_COLUMNS[entity])
        rows: list[Sequence] = []
        with self.engine.connect() as conn:
            if keys is None:
                rows = list(conn.execute(sa.select(*[table.c[c] for c in cols])))
            else:
                for part in chunks(list(keys), _IN_CHUNK):
                    rows += list(
                        conn.execute(
                            sa.select(*[table.c[c] for c in cols]).where(key_col.in_(part))
                        )
                    )
        return object_frame(rows, cols)

    def read_staged_by_email(self, emails: Iterable[str]) -> pd.DataFrame:
        """Customer rows whose trimmed, lower-cased e-mail is one of ``emails``."""
        table = schema.customers
        cols = list(schema.ENTITY_COLUMNS["customers"])
        norm = sa.func.lower(sa.func.trim(table.c.email))
        rows: list[Sequence] = []
        with self.engine.connect() as conn:
            for part in chunks(sorted(set(emails)), _IN_CHUNK):
                rows += list(conn.execute(
                    sa.select(*[table.c[c] for c in cols]).where(norm.in_(part))))
        return object_frame(rows, cols)

    def customer_emails(self, emails: Iterable[str]) -> list[str]:
        """The stored e-mail of each customer row whose trimmed, lower-cased e-mail is
        one of ``emails``: one indexed column, to tell guests from customers."""
        norm = sa.func.lower(sa.func.trim(schema.customers.c.email))
        out: list[str] = []
        with self.engine.connect() as conn:
            for part in chunks(sorted(set(emails)), _IN_CHUNK):
                out += conn.execute(sa.select(schema.customers.c.email)
                                    .where(norm.in_(part))).scalars().all()
        return out

    def iter_staged(
        self,
        entity: str,
        chunk_rows: int = 50_000,
        order_by: str | sa.ColumnElement[Any] | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Staged rows of ``entity`` in frames of at most ``chunk_rows``, streamed.

        Memory stays flat however large the table: the server-side cursor is read
        ``chunk_rows`` at a time. ``order_by`` is a column name or an expression
        (the key by default).
        """
        table = schema.STAGING_TABLES[entity]
        cols = list(schema.ENTITY_COLUMNS[entity])
        key_cols = [table.c[k] for k in keys_.columns(entity)]
        if order_by is None:
            order = key_cols
        elif isinstance(order_by, str):
            order = [table.c[order_by]]
        else:
            order = [order_by, *key_cols]
        query = sa.select(*[table.c[c] for c in cols]).order_by(*order)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(
                query
            )
            for part in result.partitions(chunk_rows):
                yield object_frame(part, cols)

    def distinct_values(self, entity: str, column: str) -> list[str]:
        """The distinct non-null values of one staged column (e.g. every order e-mail)."""
        table = schema.STAGING_TABLES[entity]
        with self.engine.connect() as conn:
            return [v for (v,) in conn.execute(
                sa.select(table.c[column]).where(table.c[column].is_not(None)).distinct())]

    def emails_without_customer(self, entity: str, column: str) -> list[str]:
        """Distinct values of an e-mail column (of orders or certificates) that no staged
        customer has, compared trimmed and lower-cased, computed by the database."""
        table = schema.STAGING_TABLES[entity]
        customers = schema.customers
        norm = sa.func.lower(sa.func.trim(table.c[column]))
        known = sa.select(sa.func.lower(sa.func.trim(customers.c.email))).where(
            customers.c.email.is_not(None))
        query = (sa.select(table.c[column]).where(table.c[column].is_not(None))
                 .where(norm.not_in(known)).distinct())
        with self.engine.connect() as conn:
            return [v for (v,) in conn.execute(query)]

    def has_staged(self, entity: str) -> bool:
        """Whether ``entity``'s table holds a row (one indexed probe, not a count)."""
        table = schema.STAGING_TABLES[entity]
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)
                                ).first() is not None

    def count_staged(self, entity: str) -> int:
        table = schema.STAGING_TABLES[entity]
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def upsert_rows(self, entity: str, rows: Sequence[tuple[str | None, ...]]) -> UpsertCounts:
        """:meth:`upsert_staged` for rows already in the entity's column order (text or
        None, one per key), without a DataFrame: the platform loaders' bulk path.

        Existing rows are compared value by value; on SQLite the inserts and updates go
        straight to the driver's ``executemany`` (SQLAlchemy's per-row parameter
        processing cost more than SQLite's own insert).
        """
        if not rows:
            return UpsertCounts()
        table = schema.STAGING_TABLES[entity]
        if len(keys_.columns(entity)) != 1:
            raise ValueError(f"upsert_rows takes one-column keys; use upsert_staged for {entity}")
        key = schema.ENTITY_KEYS[entity]
        cols = list(schema.ENTITY_COLUMNS[entity])
        at = cols.index(key)
        existing: dict[Any, tuple] = {}
        select = sa.select(*[table.c[c] for c in cols])
        with self.engine.connect() as conn:
            for part in chunks([r[at] for r in rows], _IN_CHUNK):
                for found in conn.execute(select.where(table.c[key].in_(part))):
                    existing[found[at]] = tuple(found)
        inserts = [r for r in rows if r[at] not in existing]
        updates = [r for r in rows if r[at] in existing and existing[r[at]] != tuple(r)]
        others = [c for c in cols if c != key]
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                names = ", ".join(f'"{c}"' for c in cols)
                marks = ", ".join("?" for _ in cols)
                if inserts:
                    conn.exec_driver_sql(
                        f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', inserts)
                if updates:
                    sets = ", ".join(f'"{c}" = ?' for c in others)
                    picks = [cols.index(c) for c in others]
                    conn.exec_driver_sql(
                        f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = ?',
                        [tuple(r[i] for i in picks) + (r[at],) for r in updates])
            else:
                for part in chunks(inserts, 5_000):
                    conn.execute(table.insert(), [dict(zip(cols, r, strict=True))
                                                  for r in part])
                if updates:
                    stmt = (table.update().where(table.c[key] == sa.bindparam("_key"))
                            .values({c: sa.bindparam(c) for c in others}))
                    for part in chunks(updates, 5_000):
                        conn.execute(stmt, [{**dict(zip(cols, r, strict=True)),
                                             "_key": r[at]} for r in part])
        return UpsertCounts(inserted=len(inserts), updated=len(updates),
                            unchanged=len(rows) - len(inserts) - len(updates))

    def upsert_staged(self, entity: str, frame: pd.DataFrame) -> UpsertCounts:
        """Insert new keys, update changed rows, leave identical rows alone.

        ``frame`` holds the entity's columns as text or None, one row per key.
        """
        if frame.empty:
            return UpsertCounts()
        table = schema.STAGING_TABLES[entity]
        key_cols = keys_.columns(entity)
        cols = list(schema.ENTITY_COLUMNS[entity])
        frame = frame[cols]
        frame_keys = keys_.of_frame(entity, frame).tolist()
        existing = self.read_staged(entity, frame_keys)
        new_hashes = dict(zip(frame_keys, row_hashes(frame, cols), strict=True))
        old_hashes = dict(zip(keys_.of_frame(entity, existing),
                              row_hashes(existing, cols), strict=True))
        records = frame.to_dict("records")
        keyed = list(zip(frame_keys, records, strict=True))
        inserts = [r for k, r in keyed if k not in old_hashes]
        updates = [r for k, r in keyed if k in old_hashes and old_hashes[k] != new_hashes[k]]
        with self.engine.begin() as conn:
            for part in chunks(inserts, 5_000):
                conn.execute(table.insert(), list(part))
            if updates:
                # Matched on the key columns themselves (the primary key's index).
                stmt = (
                    table.update()
                    .where(*[table.c[k] == sa.bindparam(f"_key_{k}") for k in key_cols])
                    .values({c: sa.bindparam(c) for c in cols if c not in key_cols})
                )
                for part in chunks(updates, 5_000):
                    conn.execute(stmt, [{**r, **{f"_key_{k}": r[k] for k in key_cols}}
                                        for r in part])
        return UpsertCounts(
            inserted=len(inserts),
            updated=len(updates),
            unchanged=len(records) - len(inserts) - len(updates),
        )
