"""Products into their stores' catalogue collections: bulk imports and bulk deletes.

One run may load several stores, each into its own account-scoped collection, and the
changed products arrive in the change feed's order, stores mixed. Cutting a new import
whenever the store changes would cost a call per run of same-store rows; instead every
collection fills its own import body (:func:`collection_chunks`) and an import is
submitted when its body is full (the byte cap) or the stream ends, so the calls stay at
the minimum the cap allows whatever the interleaving. :class:`CatalogImport` is the
shared import pipeline (:class:`~dotsync.sync.steps.bulk_import.BulkImport`) whose
records' settle fields travel with their body, spooled to disk with it
(:mod:`~dotsync.sync.steps.catalog_spool`), so what the open bodies and the imports in
flight hold in memory does not grow with the load.

Disabled and deleted products leave through ``deleteRecords`` (1 to 5000 keys a call,
the insight spec): :class:`Removals` gathers them per collection and calls when a batch
is full, or at the end. A key the collection does not hold comes back ``notFound``,
which is what was wanted, so it settles like a deleted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.wire import dumps
from dotsync.store import attempts
from dotsync.store.keys import display, split
from dotsync.sync.catalog_plan import CATALOG_SCOPE, CATALOG_TYPE, MAX_DELETE_KEYS
from dotsync.sync.inflight import SpooledRows
from dotsync.sync.steps.bulk_import import Settled
from dotsync.sync.steps.catalog_spool import CollectionChunk, SpooledBody
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


#: Import bodies a run may hold open at once, in units of the import cap: a shop with
#: many stores fills smaller imports rather than holding one body per store in memory.
OPEN_BODIES = 3


def collection_chunks(payloads: Iterable[tuple[Any, ...]], max_bytes: int,
                      on_oversize: Callable[[Any, int], None], *,
                      max_open_bytes: int | None = None,
                      fields: Sequence[str] = PRODUCT_SETTLE_FIELDS
                      ) -> Iterator[CollectionChunk]:
    """``(collection, record)`` pairs as import bodies of at most ``max_bytes``, one
    collection each, in each collection's order; a body goes as soon as it is full,
    the partly filled ones when the stream ends. While the open bodies hold more than
    ``max_open_bytes`` together (default :data:`OPEN_BODIES` imports' worth), the
    fullest goes early, so memory stays bounded whatever the number of stores. A record
    that fits in no body is handed to ``on_oversize`` (and reaches no chunk).

    A triple ``(collection, record, values)`` also keeps ``values`` (one per name of
    ``fields``: what settling the record needs) on disk with its body; a chunk gives
    them back, in its records' order, as :attr:`CollectionChunk.rows`."""
    budget = OPEN_BODIES * max_bytes if max_open_bytes is None else max_open_bytes
    open_bodies: dict[str, SpooledBody] = {}
    held = 0  # bytes of the records in the open bodies
    for pair in payloads:
        collection, record = pair[0], pair[1]
        body = open_bodies.get(collection)
        if body is None:
            body = open_bodies[collection] = SpooledBody(collection)
        encoded = dumps(record)
        if len(body.empty) + len(encoded) > max_bytes:
            on_oversize(pair, len(encoded))
            continue
        if body.offsets and body.size + 1 + len(encoded) + 2 > max_bytes:
            held -= body.size - len(body.prefix)
            yield body.finish(collection)
            body = open_bodies[collection] = SpooledBody(collection)
        before = body.size
        if body.offsets:
            body.append(b",")
        body.offsets.append(body.size)
        body.append(encoded)
        if len(pair) > 2:
            body.keep(fields, pair[2])
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

    def pack(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(item[k] for k in PRODUCT_SETTLE_FIELDS)

    def payload(self, item: dict[str, Any]) -> Any:
        """The record with what settling it needs: both go to disk with its body."""
        return (item["collection"], item["_payload"], self.pack(item))

    def remember(self, item: dict[str, Any]) -> None:
        """Nothing: the settle fields travel in the payload (see :meth:`keep`)."""

    def forget(self, payload: Any) -> tuple[Any, ...]:
        return tuple(payload[2])

    def keep(self, chunk: Sequence[Any]) -> SpooledRows:
        """The chunk's settle fields, still on disk: an import in flight holds only
        the file, read back a settle batch at a time when the import ends."""
        rows = chunk.rows  # type: ignore[attr-defined]
        if not isinstance(rows, SpooledRows) or len(rows) != len(chunk):
            raise RuntimeError("a catalogue import's records lost their settle fields")
        return rows

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        return collection_chunks(payloads, self.ctx.options.import_max_bytes, on_oversize)

    def submit(self, chunk: Sequence[Any]) -> str:
        collection = chunk.collection  # type: ignore[attr-defined]
        import_id = self.ctx.api.import_insight_data(collection, chunk, scope=CATALOG_SCOPE,
                                                     type=CATALOG_TYPE)
        chunk.body.close()  # type: ignore[attr-defined]  # sent: its file goes now
        return import_id

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
