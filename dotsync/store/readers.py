"""Reading staging files (CSV, JSON Lines, a JSON array, Parquet) as a stream of rows.

Every reader yields :class:`Row` items one at a time from an open file, so a file of
any size is read with flat memory: ``dotsync load`` groups them into chunks, and other
loaders (platform payloads, for instance) can reuse the same readers.

A row that cannot be read (a CSV line with too many values, a JSON line that does not
parse, an array element that is not an object) comes out as a ``Row`` with a
``problem`` and no record, at its position, and reading goes on. Only what makes the
whole file unreadable (unknown type, a damaged Parquet file, no CSV header) raises
:class:`FileProblem`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import ijson

FORMATS = {
    ".csv": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: ijson's C backend (yajl2_c) when the wheel has it: several times faster than pure Python.
try:
    _IJSON = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - platforms without the compiled backend
    _IJSON = ijson


class FileProblem(Exception):
    """The file as a whole cannot be read; the message says why."""


@dataclass(frozen=True)
class Row:
    """One row of a file: its record, or the reason it could not be read."""

    position: int
    record: dict[str, Any] | None
    problem: str | None = None


@dataclass
class FileRows:
    """An opened file: its columns when the format declares them, and its rows.

    ``unit`` names what ``Row.position`` counts (``line`` for CSV and JSON Lines,
    ``element`` for a JSON array, ``row`` for Parquet). ``header`` is None when each
    record brings its own keys (JSON).
    """

    kind: str
    unit: str
    header: list[str] | None
    rows: Iterator[Row]


def _text(raw: bytes) -> str:
    """UTF-8 text; undecodable bytes survive as surrogates so their rows can be named."""
    return raw.decode("utf-8", errors="surrogateescape")


def _first_bytes(handle: BinaryIO) -> bytes:
    """The first non-blank bytes of the file (after a UTF-8 BOM), without consuming it."""
    head = handle.read(4096)
    handle.seek(0)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()


def open_rows(path: Path, chunk_rows: int = 50_000) -> FileRows:
    """Open ``path`` and return its rows as a stream (the file closes when it ends)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FileProblem(
            f"unknown file type {path.suffix or '(none)'!r}; use .csv, .jsonl, .json "
            "(JSON Lines or a JSON array) or .parquet"
        )
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if fmt == "csv":
            return _csv_rows(handle)
        if fmt == "parquet":
            return _parquet_rows(handle, chunk_rows)
        head = _first_bytes(handle)
        if head.startswith(b"["):
            if handle.read(3) != b"\xef\xbb\xbf":  # ijson reads from here: skip a BOM
                handle.seek(0)
            return FileRows("json-array", "element", None, _array_rows(handle))
        first_line = head.split(b"\n", 1)[0].strip()
        if first_line == b"{":
            raise FileProblem(
                "this is one JSON object spread over several lines; dotsync reads a JSON "
                "array of objects (`[{...}, {...}]`) or JSON Lines (one object per line)"
            )
        return FileRows("jsonl", "line", None, _jsonl_rows(handle))
    except BaseException:
        handle.close()
        raise


def _csv_rows(handle: BinaryIO) -> FileRows:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape",
                            newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        text.close()
        raise FileProblem("the file is empty (no header row)") from None
    except csv.Error as exc:
        text.close()
        raise FileProblem(f"the header row is not valid CSV: {exc}") from None
    header = [h.strip() for h in header]

    def rows() -> Iterator[Row]:
        with text:
            while True:
                line = reader.line_num + 1
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield Row(line, None, f"not valid CSV: {exc}")
                    continue
                if not values or values == [""]:
                    continue
                if len(values) > len(header):
                    yield Row(line, {header[0]: values[0]} if header else None,
                              f"{len(values)} values for {len(header)} columns")
                    continue
                yield Row(line, dict(zip(header, values, strict=False)))

    return FileRows("csv", "line", header, rows())


def _jsonl_rows(handle: BinaryIO) -> Iterator[Row]:
    # Lines end at \n only (a binary file splits there): JSON allows U+2028, U+2029 and
    # U+0085 unescaped in strings.
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            line = _text(raw.rstrip(b"\n").removesuffix(b"\r"))
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, None, f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict):
                yield Row(number, None, "the line is not a JSON object")
                continue
            yield Row(number, record)


def _array_rows(handle: BinaryIO) -> Iterator[Row]:
    """Elements of a top-level JSON array, parsed incrementally (ijson): one element in
    memory at a time, whatever the file's size or layout (one line or pretty-printed).

    Numbers come as :class:`~decimal.Decimal`, so ``12.50`` keeps its digits. A syntax
    error ends the file there: the elements before it are kept, the rest is reported
    as one problem at the element where reading stopped.
    """
    with handle:
        position = 0
        items = _IJSON.items(handle, "item")
        while True:
            try:
                element = next(items)
            except StopIteration:
                return
            except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
                yield Row(position + 1, None,
                          f"not valid JSON from here on; the rest of the file was not read "
                          f"({_first_line(exc)})")
                return
            position += 1
            if not isinstance(element, dict):
                yield Row(position, None, "the element is not a JSON object")
                continue
            yield Row(position, element)


def _parquet_rows(handle: BinaryIO, chunk_rows: int) -> FileRows:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        handle.close()
        raise FileProblem(f"not a readable Parquet file: {_first_line(exc)}") from None
    header = [str(name) for name in parquet.schema_arrow.names]

    def rows() -> Iterator[Row]:
        with handle:
            position = 0
            try:
                for batch in parquet.iter_batches(batch_size=chunk_rows):
                    frame = batch.to_pandas().astype(object)
                    for record in frame.to_dict("records"):
                        position += 1
                        yield Row(position, record)
            except Exception as exc:  # a damaged row group
                yield Row(position + 1, None,
                          f"not a readable Parquet row group; the rest of the file was not "
                          f"read ({_first_line(exc)})")

    return FileRows("parquet", "row", header, rows())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def chunked(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Rows in lists of at most ``size``."""
    while True:
        part = list(islice(rows, size))
        if not part:
            return
        yield part
