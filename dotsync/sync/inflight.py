"""What an import in flight must remember about its records, held compactly.

While an import runs (30 seconds or more), the engine keeps, for each of its records,
the few fields needed to write the outcome to the ledger (key, fingerprints, …). Up
to 25 contact imports and 5 insight imports are in flight at once, hundreds of
thousands of records: as Python dicts that is about 500 bytes a record, enough to make
a backfill's memory grow with its size. :class:`Kept` holds the same values as Arrow
columns (about a quarter of that) and gives the rows back one at a time when the
import's report arrives. :class:`SpooledRows` keeps them in a temporary file instead,
for the imports whose bodies are built long before they are sent (a catalogue's,
the bodies a backfill builds ahead).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pyarrow as pa


class Kept:
    """The rows (tuples of ``fields``) kept for one import, stored column-wise."""

    __slots__ = ("_columns", "_length", "fields")

    def __init__(self, fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        self.fields = tuple(fields)
        self._length = len(rows)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.fields)
        if len(columns) != len(self.fields):
            raise ValueError(f"rows have {len(columns)} values, expected {len(self.fields)}")
        self._columns: list[Any] = [_compact(list(values)) for values in columns]

    def __len__(self) -> int:
        return self._length

    @property
    def nbytes(self) -> int:
        """Bytes held in Arrow buffers (columns kept as lists are not counted)."""
        return sum(a.nbytes for c in self._columns if (a := _array(c)) is not None)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of ``fields``, built as it is consumed."""
        columns = [_expand(c, 0, self._length) for c in self._columns]
        for values in zip(*columns, strict=True):
            yield dict(zip(self.fields, values, strict=True))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.rows()

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The rows as dicts, ``size`` at a time.

        An import carries up to ~150,000 records; turning them all into dicts at once
        (and the ledger rows built from them) took a few hundred megabytes at the
        moment an import settled, the backfill's peak. Settling a slice at a time
        keeps that to what one slice needs.
        """
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        for start in range(0, self._length, size):
            stop = min(self._length, start + size)
            columns = [_expand(c, start, stop) for c in self._columns]
            yield [dict(zip(self.fields, values, strict=True))
                   for values in zip(*columns, strict=True)]


class SpooledRows:
    """The settle fields of one import's records, in a temporary file, in the order
    they were appended; read back as :class:`~dotsync.sync.inflight.Kept` is (its
    length, and dicts of ``fields`` a batch at a time)."""

    __slots__ = ("_file", "_length", "fields")

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self._file = tempfile.TemporaryFile(prefix="dotsync-settle-")  # noqa: SIM115
        self._length = 0

    def append(self, values: Sequence[Any]) -> None:
        """One record's values, in the order of :attr:`fields`."""
        if len(values) != len(self.fields):
            raise ValueError(f"{len(values)} values, expected {len(self.fields)}")
        try:
            line = orjson.dumps(values)
        except TypeError:  # e.g. a lone surrogate, which UTF-8 cannot hold
            line = json.dumps(list(values), ensure_ascii=True).encode()
        self._file.write(line + b"\n")  # JSON escapes every newline inside a string
        self._length += 1

    def __len__(self) -> int:
        return self._length

    def column(self, field: str) -> list[Any]:
        """Every row's value of one field, in order (the rows stay to be read)."""
        at = self.fields.index(field)
        self._file.seek(0)
        out = [_values(line)[at] for line in self._file]
        self._file.seek(0, 2)  # appending goes on at the end
        return out

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The rows as dicts, ``size`` at a time, each value as it was appended; read
        once (the file is closed once the last batch has been taken)."""
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        self._file.seek(0)
        batch: list[dict[str, Any]] = []
        for line in self._file:
            values = _values(line)
            batch.append(dict(zip(self.fields, values, strict=True)))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
        self.close()  # read to the end: the import is settled

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        self._file.close()


def _values(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


_ARROW_TYPES = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64(),
                bytes: pa.binary()}


class _Hex:
    """A column of lowercase hexadecimal strings (fingerprints), held as their bytes:
    half the size, and given back as the very same strings."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array


def _array(column: Any) -> pa.Array | None:
    if isinstance(column, _Hex):
        return column.array
    return column if isinstance(column, pa.Array) else None


def _expand(column: Any, start: int, stop: int) -> list[Any]:
    """Rows ``start:stop`` of a kept column as Python values."""
    if isinstance(column, list):
        return column[start:stop]
    if isinstance(column, _Hex):
        return [None if b is None else b.hex()
                for b in column.array.slice(start, stop - start).to_pylist()]
    values: list[Any] = column.slice(start, stop - start).to_pylist()
    return values


def _compact(values: list[Any]) -> Any:
    """An Arrow array of ``values`` when they are all of one plain type (or None), else
    the list itself: compactness must never change a value or its type (Arrow would
    turn a mix of ints and floats into floats)."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values))  # e.g. an e-mail left out because it equals the key
    if len(kinds) != 1:
        return values
    kind = kinds.pop()
    arrow_type = _ARROW_TYPES.get(kind)
    if arrow_type is None:
        return values
    if kind is str:
        hexed = _as_hex(values)
        if hexed is not None:
            return hexed
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return values  # e.g. a lone surrogate, which UTF-8 cannot hold


def _as_hex(values: list[str | None]) -> _Hex | None:
    """The column as bytes when every value is lowercase hex that round-trips exactly."""
    try:
        raw = [None if v is None else bytes.fromhex(v) for v in values]
    except ValueError:
        return None
    if any(b is not None and b.hex() != v for b, v in zip(raw, values, strict=True)):
        return None  # upper case or spaces: fromhex accepts them, hex() would not restore
    return _Hex(pa.array(raw, type=pa.binary()))
