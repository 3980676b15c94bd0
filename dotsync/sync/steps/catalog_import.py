"""Products into their stores' catalogue collections: bulk imports and bulk deletes.

One run may load several stores, each into its own account-scoped collection, and the
changed products arrive in the change feed's order, stores mixed. Cutting a new import
whenever the store changes would cost a call per run of same-store rows; instead every
collection fills its own import body (:class:`CollectionChunks`) and an import is
submitted when its body is full (the byte cap) or the stream ends, so the calls stay at
the minimum the cap allows whatever the interleaving. :class:`CatalogImport` is the
shared import pipeline (:class:`~dotsync.sync.steps.bulk_import.BulkImport`) with one
queue of kept records per collection.

Disabled and deleted products leave through ``deleteRecords`` (1 to 5000 keys a call,
the insight spec): :class:`Removals` gathers them per collection and calls when a batch
is full, or at the end. A key the collection does not hold comes back ``notFound``,
which is what was wanted, so it settles like a deleted one.
"""

from __future__ import annotations

import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.wire import SerializedChunk, build_insight_import_body, dumps
from dotsync.store import attempts
from dotsync.store.keys import display, split
from dotsync.sync.catalog_plan import CATALOG_SCOPE, CATALOG_TYPE, MAX_DELETE_KEYS
from dotsync.sync.steps.bulk_import import Settled
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.insight_import import InsightImport
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import describe, error_code

#: What a product in flight keeps until its import settles it.
PRODUCT_SETTLE_FIELDS = ("key", "collection", "_hash", "_payload_hash")
#: The payload hash the ledger keeps for a product removed from its catalogue: a
#: removed product is not removed again, and one enabled again differs from it.
REMOVED = "removed"
ENTITY = "products"
#: The attempt log's name for a delete-records call.
INSIGHT_DELETE = "insight delete"


class CollectionChunk(SerializedChunk):
    """An import body of one collection's records (the collection it is for)."""

    __slots__ = ("collection",)

    def __init__(self, collection: str, body: bytearray, offsets: Sequence[int],
                 prefix: bytes) -> None:
        super().__init__(body, offsets, prefix)
        self.collection = collection


class _Body:
    """One collection's import body as it fills, spooled to a temporary file.

    A run loading several stores keeps one body open per store until it is full; held
    in memory, three stores at the 48 MB default were 150 MB of bytes whose size grew
    with the load up to that cap. On disk they cost nothing until the body is sent,
    when it is read back once into the single buffer the client sends.
    """

    def __init__(self, collection: str) -> None:
        envelope = build_insight_import_body(collection, [], CATALOG_SCOPE, CATALOG_TYPE)
        self.empty = dumps(envelope)
        self.prefix = self.empty[:-2]  # up to and including the list's "["
        self.file = tempfile.TemporaryFile(prefix="dotsync-catalog-")  # noqa: SIM115
        self.file.write(self.prefix)
        self.size = len(self.prefix)
        self.offsets: array[int] = array("Q")

    def append(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def discard(self) -> None:
        self.file.close()

    def finish(self, collection: str) -> CollectionChunk:
        self.offsets.append(self.size + 1)  # where a next record would start
        self.append(b"]}")
        body = bytearray(self.size)
        self.file.seek(0)
        read = self.file.readinto(body)
        self.file.close()
        if read != self.size:
            raise OSError(f"the spooled import body of {collection!r} was cut short "
                          f"({read} of {self.size} bytes)")
        return CollectionChunk(collection, body, self.offsets, self.prefix)


#: Import bodies a run may hold open at once, in units of the import cap: a shop with
#: many stores fills smaller imports rather than holding one body per store in memory.
OPEN_BODIES = 3


def collection_chunks(payloads: Iterable[tuple[str, Mapping[str, Any]]], max_bytes: int,
                      on_oversize: Callable[[Any, int], None], *,
                      max_open_bytes: int | None = None) -> Iterator[CollectionChunk]:
    """``(collection, record)`` pairs as import bodies of at most ``max_bytes``, one
    collection each, in each collection's order; a body goes as soon as it is full,
    the partly filled ones when the stream ends. While the open bodies hold more than
    ``max_open_bytes`` together (default :data:`OPEN_BODIES` imports' worth), the
    fullest goes early, so memory stays bounded whatever the number of stores. A record
    that fits in no body is handed to ``on_oversize`` (and reaches no chunk)."""
    budget = OPEN_BODIES * max_bytes if max_open_bytes is None else max_open_bytes
    open_bodies: dict[str, _Body] = {}
    held = 0  # bytes of the records in the open bodies
    for pair in payloads:
        collection, record = pair
        body = open_bodies.get(collection)
        if body is None:
            body = open_bodies[collection] = _Body(collection)
        encoded = dumps(record)
        if len(body.empty) + len(encoded) > max_bytes:
            on_oversize(pair, len(encoded))
            continue
        if body.offsets and body.size + 1 + len(encoded) + 2 > max_bytes:
            held -= body.size - len(body.prefix)
            yield body.finish(collection)
            body = open_bodies[collection] = _Body(collection)
        before = body.size
        if body.offsets:
            body.append(b",")
        body.offsets.append(body.size)
        body.append(encoded)
        held += body.size - before
        while held > budget:
            fullest = max(open_bodies, key=lambda name: open_bodies[name].size)
            full = open_bodies.pop(fullest)
            held -= full.size - len(full.prefix)
            if full.offsets:
                yield full.finish(fullest)
            else:
                full.discard()
    try:
        for collection in list(open_bodies):
            body = open_bodies.pop(collection)
            if body.offsets:
                yield body.finish(collection)
            else:
                body.discard()
    finally:
        for body in open_bodies.values():
            body.discard()


def settle_products(ctx: RunContext, outcomes: Sequence[Settled], *,
                    operation: str = attempts.INSIGHT_IMPORT) -> None:
    """Write products' outcomes to the ledger and the report (keys shown ``store / sku``)."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    rows = []
    for row, outcome in outcomes:
        key = str(row["key"])
        entry: dict[str, Any] = {"key": key, "state": outcome.state,
                                 "error_code": outcome.code,
                                 "error_message": outcome.message,
                                 "error_field": outcome.field}
        if outcome.reference is not None:
            entry["dotdigital_ref"] = outcome.reference
        if outcome.final:
            ctx.settled["products"].add(key)
        if outcome.state == "synced":
            entry.update(source_hash=row["_hash"], payload_hash=row["_payload_hash"],
                         sent_at=now)
        elif outcome.state == "rejected":
            entry["source_hash"] = row["_hash"]
        ctx.tally("products", outcome.state)
        if outcome.state != "synced":
            ctx.report.problem("products", display(key) or key, outcome.state,
                               outcome.message or outcome.state, field=outcome.field,
                               code=outcome.code)
        rows.append(entry)
    ctx.ledger.record("products", rows, run_id=ctx.run_id, count_attempt=True,
                      attempt=operation)
    failpoints.hit("after_settle")


class CatalogImport(InsightImport[dict[str, Any], None]):
    """Catalogue records into account-scoped insight imports (5 in flight), several
    collections interleaved, each import one collection's."""

    what = "catalogue import"
    record_name = "product"
    fields = PRODUCT_SETTLE_FIELDS

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self._queues: dict[str, deque[tuple[Any, ...]]] = {}

    def pack(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(item[k] for k in PRODUCT_SETTLE_FIELDS)

    def payload(self, item: dict[str, Any]) -> Any:
        return (item["collection"], item["_payload"])

    def remember(self, item: dict[str, Any]) -> None:
        self._queues.setdefault(item["collection"], deque()).append(self.pack(item))

    def forget(self, payload: Any) -> tuple[Any, ...]:
        return self._queues[payload[0]].pop()

    def take(self, chunk: Sequence[Any]) -> list[tuple[Any, ...]]:
        queue = self._queues[chunk.collection]  # type: ignore[attr-defined]
        return [queue.popleft() for _ in range(len(chunk))]

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        return collection_chunks(payloads, self.ctx.options.import_max_bytes, on_oversize)

    def submit(self, chunk: Sequence[Any]) -> str:
        collection = chunk.collection  # type: ignore[attr-defined]
        return self.ctx.api.import_insight_data(collection, chunk, scope=CATALOG_SCOPE,
                                                type=CATALOG_TYPE)

    def settle(self, outcomes: Sequence[Settled]) -> None:
        settle_products(self.ctx, outcomes)

    def settle_finished(self, import_id: str | None, failures: Mapping[Any, Any],
                        rows: list[dict[str, Any]]) -> list[None]:
        """Settle one slice of an ended import: a record its report names is rejected
        with Dotdigital's reason (the SKU is the record key within its collection)."""
        outcomes: list[Settled] = []
        for row in rows:
            reason = failures.get(split(ENTITY, str(row["key"]))["sku"])
            if reason is None:
                outcomes.append((row, Outcome("synced", reference=import_id)))
            else:
                outcomes.append((row, Outcome(
                    "rejected", reason,
                    f"Dotdigital rejected the catalogue record in {row['collection']!r}: "
                    f"{reason}", reference=import_id)))
        settle_products(self.ctx, outcomes)
        self.ctx.progress(len(rows))
        return []


class Removals:
    """Disabled and deleted products, per collection, out through ``deleteRecords``
    in batches of up to 5000 keys; each batch settled as soon as it is answered."""

    def __init__(self, ctx: RunContext, batch: int = MAX_DELETE_KEYS) -> None:
        if not 1 <= batch <= MAX_DELETE_KEYS:
            raise ValueError(f"a delete-records call takes 1 to {MAX_DELETE_KEYS} keys")
        self.ctx = ctx
        self.batch = batch
        self._waiting: dict[str, dict[str, dict[str, Any]]] = {}

    def add(self, row: dict[str, Any]) -> None:
        """One product to remove (``key``, ``sku``, ``collection``, ``_hash``)."""
        waiting = self._waiting.setdefault(row["collection"], {})
        waiting[str(row["sku"])] = row
        if len(waiting) >= self.batch:
            self._send(row["collection"])

    def flush(self) -> None:
        for collection in list(self._waiting):
            self._send(collection)

    def _send(self, collection: str) -> None:
        rows = list(self._waiting.pop(collection, {}).values())
        if not rows:
            return
        try:
            self.ctx.api.delete_account_insight_records(
                collection, [str(r["sku"]) for r in rows])
        except dd.AuthenticationError:
            raise
        except dd.DotdigitalError as exc:  # tried again by the next run
            outcome = Outcome("failed", error_code(exc),
                              f"removing from the catalogue {collection!r}: {describe(exc)}")
            settle_products(self.ctx, [(r, outcome) for r in rows], operation=INSIGHT_DELETE)
            return
        # A key the collection did not hold (``notFound``) is out of it all the same.
        settle_products(self.ctx, [({**r, "_payload_hash": REMOVED}, Outcome("synced"))
                                   for r in rows], operation=INSIGHT_DELETE)
        self.ctx.progress(len(rows))
