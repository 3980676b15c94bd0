"""The ``warnings`` table: which fields of a record were left out of what was sent, and why.

SPEC §1: a problem in an optional field never holds a record; it is a *warning*. A
record's warnings are those of its last validation: :func:`replace` deletes what an
earlier run said about the records it validated and writes the new ones in one
transaction, so a fixed field's warning disappears with the next run and nothing
accumulates. :func:`add` appends warnings found later in the same run (a mobile number
another contact holds). Cost follows the records validated, never the table's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store.db import Store, chunks
from dotsync.store.frames import object_frame
from dotsync.store.schema import warnings as table

#: Columns of a warning as written and read (besides entity and key).
FIELDS: tuple[str, ...] = ("field", "check", "value", "reason")
COLUMNS: tuple[str, ...] = ("entity", "key", *FIELDS, "run_id", "recorded_at")


def _rows(entity: str, warnings: Iterable[Mapping[str, Any]], run_id: str | None,
          stamp: datetime, start: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Table rows, numbered per record (``seq``) from ``start`` (0 when not given)."""
    nxt: dict[str, int] = dict(start or {})
    out = []
    for w in warnings:
        key = str(w["key"])
        seq = nxt.get(key, 0)
        nxt[key] = seq + 1
        out.append({"entity": entity, "key": key, "seq": seq,
                    **{f: None if w.get(f) is None else str(w[f]) for f in FIELDS},
                    "run_id": run_id, "recorded_at": stamp})
    return out


def replace(store: Store, entity: str, keys: Iterable[str],
            warnings: Iterable[Mapping[str, Any]], run_id: str | None = None) -> int:
    """The warnings of the records ``keys`` become ``warnings`` (rows with ``key``,
    ``field``, ``check``, ``value``, ``reason``); records without any lose theirs."""
    stamp = datetime.now(UTC)
    rows = _rows(entity, warnings, run_id, stamp)
    wanted = list(dict.fromkeys([*map(str, keys), *(r["key"] for r in rows)]))
    with store.engine.begin() as conn:
        # A first load (no warning of this entity yet) skips the deletes altogether.
        held = conn.execute(sa.select(table.c.seq).where(table.c.entity == entity)
                            .limit(1)).first()
        for part in chunks(wanted if held else [], 900):
            conn.execute(table.delete().where(table.c.entity == entity,
                                              table.c.key.in_(list(part))))
        _insert(conn, rows)
    return len(rows)


def _insert(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert, or overwrite what another run wrote at the same place meanwhile: two runs
    at once validate the same records and reach the same warnings (README guarantee 6)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other databases: a plain insert
        for part in chunks(rows, 5_000):
            conn.execute(table.insert(), list(part))
        return
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.entity, table.c.key, table.c.seq],
        set_={c: stmt.excluded[c] for c in (*FIELDS, "run_id", "recorded_at")})
    for part in chunks(rows, 5_000):
        conn.execute(stmt, list(part))


def add(store: Store, entity: str, warnings: Iterable[Mapping[str, Any]],
        run_id: str | None = None) -> int:
    """Append warnings to what the records already have (found after validation)."""
    given = list(warnings)
    if not given:
        return 0
    keys = sorted({str(w["key"]) for w in given})
    with store.engine.begin() as conn:
        start: dict[str, int] = {}
        for part in chunks(keys, 900):
            start.update((k, int(n) + 1) for k, n in conn.execute(
                sa.select(table.c.key, sa.func.max(table.c.seq))
                .where(table.c.entity == entity, table.c.key.in_(list(part)))
                .group_by(table.c.key)))
        rows = _rows(entity, given, run_id, datetime.now(UTC), start)
        _insert(conn, rows)
    return len(rows)


def frame(store: Store, entity: str | None = None,
          keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Warnings (all, or one entity's, or some records'), in entity, key, written order."""
    query = sa.select(*[table.c[c] for c in COLUMNS])
    if entity:
        query = query.where(table.c.entity == entity)
    rows: list[Any] = []
    with store.engine.connect() as conn:
        if keys is None:
            rows = list(conn.execute(query.order_by(table.c.entity, table.c.key, table.c.seq)))
        else:
            for part in chunks(list(dict.fromkeys(keys)), 900):
                rows += list(conn.execute(query.where(table.c.key.in_(list(part)))
                                          .order_by(table.c.entity, table.c.key, table.c.seq)))
    return object_frame(rows, COLUMNS)


def counts(store: Store) -> dict[str, int]:
    """``{entity: records with at least one warning}``."""
    with store.engine.connect() as conn:
        result = conn.execute(
            sa.select(table.c.entity, sa.func.count(sa.distinct(table.c.key)))
            .group_by(table.c.entity))
        return {entity: int(n) for entity, n in result}
