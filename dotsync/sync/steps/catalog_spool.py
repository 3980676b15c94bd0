"""What a catalogue import holds while it fills and while it runs, kept on disk.

A run loading several stores keeps one import body open per store until it is full,
and the bodies of interleaved stores fill together: at the 48 MB default, three
bodies hold over half a million products between them just before they go. Held in
memory, their bytes (150 MB) and then the fields each record needs to be settled
(key and fingerprints, about 370 bytes a record as Python tuples, 200 MB) grew with
the load up to that cap, and the second half of that stayed while the imports ran.

Here both go to temporary files as the records are read: :class:`SpooledBody` is the
body, which the client sends from its file a part at a time
(:class:`~dotsync.dotdigital.wire.FileBody`); :class:`SpooledRows` the settle fields,
one JSON line a record, which stay on disk until the import ends and are then read
back a settle batch at a time. What stays in memory per record is its offset in the
body (8 bytes).
"""

from __future__ import annotations

import json
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from dotsync.dotdigital.wire import FileBody, SerializedChunk, build_insight_import_body, dumps
from dotsync.sync.catalog_plan import CATALOG_SCOPE, CATALOG_TYPE


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

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The rows as dicts, ``size`` at a time, each value as it was appended; read
        once (the file is closed once the last batch has been taken)."""
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        self._file.seek(0)
        batch: list[dict[str, Any]] = []
        for line in self._file:
            try:
                values = orjson.loads(line)
            except orjson.JSONDecodeError:
                values = json.loads(line)
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


class CollectionChunk(SerializedChunk):
    """An import body of one collection's records (the collection it is for), with the
    settle fields of its records when they were given (:attr:`rows`)."""

    __slots__ = ("collection", "rows")

    def __init__(self, collection: str, body: FileBody, offsets: Sequence[int],
                 prefix: bytes, rows: SpooledRows | None = None) -> None:
        super().__init__(body, offsets, prefix)
        self.collection = collection
        self.rows = rows


class SpooledBody:
    """One collection's import body as it fills, spooled to a temporary file, and the
    settle fields of its records (when given) to another."""

    def __init__(self, collection: str) -> None:
        envelope = build_insight_import_body(collection, [], CATALOG_SCOPE, CATALOG_TYPE)
        self.empty = dumps(envelope)
        self.prefix = self.empty[:-2]  # up to and including the list's "["
        self.file = tempfile.TemporaryFile(prefix="dotsync-catalog-")  # noqa: SIM115
        self.file.write(self.prefix)
        self.size = len(self.prefix)
        self.offsets: array[int] = array("Q")
        self.rows: SpooledRows | None = None

    def append(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def keep(self, fields: Sequence[str], values: Sequence[Any]) -> None:
        """What settling the record just appended needs."""
        if self.rows is None:
            self.rows = SpooledRows(fields)
        self.rows.append(values)

    def discard(self) -> None:
        self.file.close()
        if self.rows is not None:
            self.rows.close()

    def finish(self, collection: str) -> CollectionChunk:
        """The body as a chunk that is sent from its file (never read back whole)."""
        self.offsets.append(self.size + 1)  # where a next record would start
        self.append(b"]}")
        self.file.flush()
        return CollectionChunk(collection, FileBody(self.file, self.size), self.offsets,
                               self.prefix, self.rows)
