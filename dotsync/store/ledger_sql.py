"""The ledger's write statements: one batched upsert per group of rows, and the rows a
claim needs before it can compare-and-set.

Kept apart from :class:`dotsync.store.ledger.Ledger` because they are about the SQL each
database speaks (``INSERT ... ON CONFLICT`` through the driver's ``executemany``, the
timestamps SQLite stores as text), not about what the states mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from dotsync.store import schema

#: Writable columns holding timestamps (stored as text on SQLite).
TIME_COLUMNS = frozenset({"sent_at"})


def db_time(value: Any, dialect: str) -> Any:
    """Datetimes as the text SQLAlchemy's SQLite DATETIME stores (UTC, no offset), so
    rows written here read back like any other; other values unchanged."""
    if dialect == "sqlite" and isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def upsert(
    conn: sa.Connection,
    entity: str,
    fields: tuple[str, ...],
    items: Sequence[Mapping[str, Any]],
    stamp: datetime,
    count_attempt: bool,
    protect_sent: bool = False,
    run_id: str | None = None,
) -> None:
    """Insert or update ``items`` (each with ``key`` and every one of ``fields``) of
    ``entity``, one statement for the batch; see :meth:`Ledger.record` for the flags."""
    dialect = conn.dialect.name
    extra: tuple[Any, ...] = ()
    columns_set = fields
    if run_id is not None and "run_id" not in fields:
        columns_set = (*fields, "run_id")
        extra = (run_id,)
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - portable, slower
        _upsert_portable(conn, entity, columns_set, [
            {**item, **dict(zip(columns_set[len(fields):], extra, strict=True))}
            for item in items], stamp, count_attempt)
        return
    # One INSERT ... ON CONFLICT per batch, run by the driver's executemany with
    # positional rows: both databases speak it, and it skips SQLAlchemy's per-row
    # parameter processing, which dominated large backfills.
    columns = ["entity", "key", *columns_set, "first_seen_at", "updated_at", "attempts"]
    sets = [f'"{f}" = excluded."{f}"' for f in columns_set]
    sets.append('"updated_at" = excluded."updated_at"')
    if count_attempt:
        sets.append('"attempts" = ledger."attempts" + 1')
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO ledger ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) "
        f'ON CONFLICT ("entity", "key") DO UPDATE SET {", ".join(sets)}'
        + (""" WHERE ledger."state" NOT IN ('synced', 'in_doubt')""" if protect_sent
           else "")
    )
    when = db_time(stamp, dialect)
    tail = (*extra, when, when, 1 if count_attempt else 0)
    times = [i for i, f in enumerate(fields) if f in TIME_COLUMNS]
    params: list[tuple[Any, ...]] = []
    converted: dict[Any, Any] = {}  # a batch's rows mostly share one timestamp
    for item in items:
        values = [item[f] for f in fields]
        for i in times:
            value = values[i]
            if value not in converted:
                converted[value] = db_time(value, dialect)
            values[i] = converted[value]
        params.append((entity, item["key"], *values, *tail))
    conn.exec_driver_sql(sql, params)

def _upsert_portable(
    conn: sa.Connection,
    entity: str,
    fields: tuple[str, ...],
    items: list[dict[str, Any]],
    stamp: datetime,
    count_attempt: bool,
) -> None:
    t = schema.ledger
    for item in items:
        values = {f: item[f] for f in fields}
        values["updated_at"] = stamp
        if count_attempt:
            values["attempts"] = t.c.attempts + 1
        done = conn.execute(
            t.update().where(t.c.entity == entity, t.c.key == item["key"]).values(values)
        )
        if done.rowcount == 0:
            conn.execute(
                t.insert().values(
                    entity=entity,
                    key=item["key"],
                    first_seen_at=stamp,
                    attempts=1 if count_attempt else 0,
                    **{k: v for k, v in values.items() if k != "attempts"},
                )
            )


def insert_missing(
    conn: sa.Connection, entity: str, keys: list[str], stamp: datetime
) -> None:
    """A ``pending`` row for each of ``keys`` that has none; existing rows untouched."""
    t = schema.ledger
    params = [
        {
            "entity": entity,
            "key": k,
            "state": "pending",
            "attempts": 0,
            "first_seen_at": stamp,
            "updated_at": stamp,
        }
        for k in keys
    ]
    dialect = conn.dialect.name
    if dialect in {"postgresql", "sqlite"}:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(t).on_conflict_do_nothing(), params)
    else:  # pragma: no cover
        for p in params:
            try:
                with conn.begin_nested():
                    conn.execute(t.insert().values(**p))
            except sa.exc.IntegrityError:
                pass
