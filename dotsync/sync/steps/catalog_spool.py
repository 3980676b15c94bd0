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

import tempfile
from array import array
from collections.abc import Sequence
from typing import Any

from dotsync.dotdigital.wire import FileBody, SerializedChunk, build_insight_import_body, dumps
from dotsync.sync.catalog_plan import CATALOG_SCOPE, CATALOG_TYPE
from dotsync.sync.inflight import SpooledRows


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
