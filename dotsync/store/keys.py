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
from sqlalchemy.ext.compiler import compiles

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


class KeyPart(sa.sql.functions.FunctionElement[str]):
    """Part ``index`` (1-based) of a text key held in a column, as SQL: joins a text key
    back onto an entity's own key columns, so the join uses the primary key (neither
    SQLite nor PostgreSQL matches a join on the joined text to its expression index,
    and a join that scans the products table for every changed product never ends)."""

    type = sa.Text()
    inherit_cache = True
    name = "key_part"

    def __init__(self, column: sa.ColumnElement[Any], index: int, parts: int) -> None:
        self.index, self.parts = index, parts
        super().__init__(column)


@compiles(KeyPart, "sqlite")
def _key_part_sqlite(element: KeyPart, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    if element.parts != 2:
        raise NotImplementedError("only two-part keys are joined by part")
    cut = f"instr({column}, char(31))"
    if element.index == 1:
        return f"substr({column}, 1, {cut} - 1)"
    return f"substr({column}, {cut} + 1)"


@compiles(KeyPart)
def _key_part_default(element: KeyPart, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"split_part({column}, chr(31), {int(element.index)})"


def join_on(entity: str, table: sa.Table, key: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """The condition joining a column of text keys (``key``) to ``entity``'s staged
    ``table``, on the table's key columns."""
    names = columns(entity)
    if len(names) == 1:
        return table.c[names[0]] == key
    return sa.and_(*[table.c[name] == KeyPart(key, i, len(names))
                     for i, name in enumerate(names, start=1)])


def trigger_sql(entity: str, row: str) -> str:
    """The text key in a trigger body, of the ``NEW`` or ``OLD`` row (SQLite and
    PostgreSQL both concatenate with ``||``)."""
    parts = [f'{row}."{c}"' for c in columns(entity)]
    return f" || '{SEPARATOR}' || ".join(parts)
