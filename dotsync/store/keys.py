"""Every staged record's key as one text, whatever its key columns.

The ledger, the change stamps and the reports key a record by one text. Most staged
entities have a one-column key; ``products`` is keyed by ``store`` and ``sku``
(SPEC §1), joined here with U+001F (the unit separator). The loader refuses that
character in key columns, so the joined text is unambiguous and splits back
into its parts.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import schema

#: Joins the parts of a composite key; no staged value may hold it.
SEPARATOR = "\x1f"


def columns(entity: str) -> tuple[str, ...]:
    """The key columns of ``entity``, in the order they make its text key."""
    return schema.KEY_COLUMNS[entity]


def of_values(entity: str, values: dict[str, Any]) -> str | None:
    """The text key of one record (None when a key column is missing or blank)."""
    parts = [values.get(c) for c in columns(entity)]
    if any(p is None or not str(p).strip() for p in parts):
        return None
    return SEPARATOR.join(str(p) for p in parts)


def display(key: str | None) -> str | None:
    """A text key as people read it (``uk / SKU-1``)."""
    return None if key is None else key.replace(SEPARATOR, " / ")


def split(entity: str, key: str) -> dict[str, str]:
    """The key columns' values of a text key."""
    names = columns(entity)
    parts = key.split(SEPARATOR, len(names) - 1) if len(names) > 1 else [key]
    if len(parts) != len(names):
        raise ValueError(f"{entity} key {key!r} does not have {len(names)} parts")
    return dict(zip(names, parts, strict=True))


def of_frame(entity: str, frame: pd.DataFrame) -> pd.Series:
    """The text key of each row of a frame of staged rows."""
    names = columns(entity)
    if len(names) == 1:
        return frame[names[0]]
    joined = frame[names[0]].astype(object)
    for name in names[1:]:
        joined = joined + SEPARATOR + frame[name].astype(object)
    return joined


def expression(entity: str, table: sa.Table | None = None) -> sa.ColumnElement[Any]:
    """The text key as SQL (the products' one is backed by an expression index)."""
    table = schema.STAGING_TABLES[entity] if table is None else table
    names = columns(entity)
    expr: sa.ColumnElement[Any] = table.c[names[0]]
    for name in names[1:]:
        expr = expr + SEPARATOR + table.c[name]
    return expr


def trigger_sql(entity: str, row: str) -> str:
    """The text key in a trigger body, of the ``NEW`` or ``OLD`` row (SQLite and
    PostgreSQL both concatenate with ``||``)."""
    parts = [f'{row}."{c}"' for c in columns(entity)]
    return f" || '{SEPARATOR}' || ".join(parts)
