"""The scheduled sync over what changed, in chunks: the steps of the ``sync`` flow.

A run reads, per entity, only the staged records stamped since the entity's mark
(:mod:`dotsync.store.changes`) and those the ledger says to retry, ``chunk_rows`` at a
time; each chunk is fingerprinted and compared with the ledger (so an unchanged
write is not sent, and a change back to an earlier content is), validated and sent
before the next is read. A run's memory therefore follows the chunk size, not the
store nor the number of changes, and a run with nothing changed makes a few indexed
queries.

The order holds as before: every changed customer's contact is pushed before any
order or certificate is read. The e-mail-only contacts of guests and certificate
recipients follow the customers' in the same stream (:mod:`dotsync.sync.guests`):
the contacts step reads the e-mail column of the changed orders and certificates
and pushes those no customer holds, so they share the customers' last import instead
of an import and a poll of their own, and are settled before any of their orders or
certificates is sent. What that early read could not know (a run limited to orders,
records stamped after it) is pushed chunk by chunk, just before its orders or
certificates, as a fallback; a guest is pushed once a run either way.
Customers sharing an e-mail merge together: a pending row's e-mail group is
completed from the database (by the indexed, trimmed and lower-cased e-mail), so it
is whole in its chunk. The mark of an entity moves only once its step has settled
every record it read.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from dotsync import failpoints
from dotsync.store.changes import ChangeFeed, Window
from dotsync.store.schema import ENTITY_KEYS
from dotsync.store.status import source_hashes
from dotsync.sync import guests, order_stream
from dotsync.sync.engine import SyncEngine
from dotsync.sync.steps.contact_send import Pushing
from dotsync.sync.steps.items import ContactItem
from dotsync.sync.steps.options import CHUNK_ROWS
from dotsync.sync.steps.records import norm_email


class Changes:
    """One run's view of what changed: pending records of each entity, in chunks.

    ``keep`` (optional) narrows the pending rows of a chunk further (``backfill
    --since``); a run that narrows them, or a dry run, never moves a mark.
    """

    def __init__(self, engine: SyncEngine, *, chunk_rows: int = CHUNK_ROWS,
                 keep: Any | None = None) -> None:
        self.engine = engine
        self.feed = ChangeFeed(engine.store.engine)
        self.chunk_rows = chunk_rows
        self.keep = keep
        self.windows: dict[str, Window] = {}
        self.rows_read = 0

    def pending(self, entity: str) -> Iterator[pd.DataFrame]:
        """Pending rows of ``entity`` with their fingerprint in ``_hash`` (customers also
        with ``_email_norm``), chunk by chunk; empty chunks are skipped."""
        self.abandon(entity)  # a retried step reads its window afresh
        window = self.feed.open(entity)
        self.windows[entity] = window
        return self._read(entity, window)

    def again(self, entity: str) -> Iterator[pd.DataFrame]:
        """The rows of ``entity``'s open window that are still pending and that this run
        has not settled yet (no ledger row written by it): what an earlier pass over
        the same window left for later. Nothing when no window is open."""
        window = self.windows.get(entity)
        if window is None:
            return
        run_id = self.engine.ctx.run_id
        key = ENTITY_KEYS[entity]
        for frame in self._read(entity, window):
            written = self.engine.ledger.lookup(entity, frame[key].astype(str).tolist(),
                                                ("run_id",))
            left = frame[[written.get(str(k), (None,))[0] != run_id for k in frame[key]]]
            if not left.empty:
                yield left

    def _read(self, entity: str, window: Window) -> Iterator[pd.DataFrame]:
        engine = self.engine
        frames = itertools.chain(self.feed.changed(window, self.chunk_rows),
                                 self.feed.to_retry(window, self.chunk_rows))
        for frame in frames:
            self.rows_read += len(frame)
            failpoints.hit("after_change_read")
            hashes = source_hashes(entity, frame)
            mask = engine.ledger.pending(entity, frame, hashes)
            if self.keep is not None:
                mask &= self.keep(frame)
            if not mask.any():
                continue
            out = frame.loc[mask].assign(_hash=hashes[mask])
            if entity == "customers":
                out["_email_norm"] = norm_email(out["email"])
            out = engine.ctx.reject_long_keys(entity, out)
            if not out.empty:
                yield out

    def done(self, entity: str) -> None:
        """``entity``'s step settled every record it read: move its mark (not in a dry
        run, nor when ``keep`` left records out)."""
        window = self.windows.pop(entity, None)
        if window is None:
            return
        processed = not self.engine.options.dry_run and self.keep is None
        failpoints.hit("before_mark")
        self.feed.close(window, processed=processed)
        failpoints.hit("after_mark")

    def abandon(self, entity: str | None = None) -> None:
        """Close windows without moving their marks (a failed or narrowed step)."""
        for name in [entity] if entity else list(self.windows):
            window = self.windows.pop(name, None) if name else None
            if window is not None:
                self.feed.close(window, processed=False)


# -- the steps ----------------------------------------------------------------------------


def contact_items(engine: SyncEngine, chunks: Iterable[pd.DataFrame]) -> Iterator[ContactItem]:
    """Contact items of the pending customers, chunk by chunk, each pending row with
    every staged row that shares its e-mail."""
    for pending in chunks:
        items = deque(engine.contacts.pending_items(pending))
        del pending
        while items:  # hand each item over and let it go
            yield items.popleft()


def push_guests(engine: SyncEngine, emails: Iterable[Any]) -> None:
    """E-mail-only contacts for the (normalised) e-mails of valid orders or certificate
    recipients that no staged customer has, unless Dotdigital has them already (the
    contacts step pushed most of them with the customers: this is for the rest)."""
    found = guests.items(engine, emails)
    if found:
        engine.push_contacts(found)


class ContactsSubmitted:
    """This run's contacts, sent or submitted, whose imports may still be in flight.

    Until :meth:`settle`, a contact the ledger says is ``synced`` is in Dotdigital (an
    import only adds or updates, and the erasures are done): its orders need not
    wait. A contact new in this run exists only once :meth:`settle` has returned.
    """

    def __init__(self, pushing: Pushing, changes: Changes) -> None:
        self.pushing = pushing
        self.changes = changes

    @property
    def broken(self) -> bool:
        """The push failed midway: its imports can no longer be followed."""
        return self.pushing.broken

    def settle(self) -> None:
        """Wait for the contact imports still in flight, settle them, move the mark."""
        self.pushing.finish()
        self.changes.done("customers")


def start_contacts(engine: SyncEngine, changes: Changes,
                   guests_of: Sequence[str] = ()) -> ContactsSubmitted:
    """Every pending customer, merged by e-mail, sent as contacts (single upserts when
    few, bulk imports when many) up to the point where every contact is submitted, and
    the erasures they asked for; the imports still in flight are settled by the
    result's :meth:`~ContactsSubmitted.settle`.

    ``guests_of`` (``orders``, ``certificates``: the entities this run sends) adds,
    after the customers, the e-mail-only contacts their changed records need, in the
    same stream: one import for both when they fit in one."""
    items: Iterable[ContactItem] = contact_items(engine, changes.pending("customers"))
    if guests_of:
        items = itertools.chain(items, guests.changed_items(engine, guests_of,
                                                            changes.chunk_rows))
    pushing = engine.push_contacts(items, settle=False)
    engine.contacts.erasures.erase()
    return ContactsSubmitted(pushing, changes)


def sync_contacts(engine: SyncEngine, changes: Changes,
                  guests_of: Sequence[str] = ()) -> None:
    """:func:`start_contacts`, and its settling at once."""
    start_contacts(engine, changes, guests_of).settle()


def sync_orders(engine: SyncEngine, changes: Changes) -> None:
    """Pending orders, chunk by chunk: validated (rejects recorded), their guests'
    contacts pushed, then sent as insight records (single upserts when few, imports
    when many). The chunks are pipelined (:mod:`dotsync.sync.order_stream`): the next
    one is read and submitted while earlier imports run."""
    _send_orders(engine, changes.pending("orders"))
    changes.done("orders")


def sync_orders_of_existing_contacts(engine: SyncEngine, changes: Changes) -> bool:
    """The pending orders whose contact is already in Dotdigital (``synced`` in the
    ledger), sent while this run's contact imports may still be in flight; the others
    are left untouched for :func:`sync_orders_left`. Returns whether any was left
    (a dry run leaves them all: it has no imports to overlap)."""
    if engine.options.dry_run:
        return True
    left = [False]
    order_stream.send_orders(engine, order_stream.prepared_orders(
        engine, changes.pending("orders"), None, left=left))
    return left[0]


def sync_orders_left(engine: SyncEngine, changes: Changes, left: bool) -> None:
    """After this run's contacts settled: the orders :func:`sync_orders_of_existing_contacts`
    left (their contact new in this run, or a guest's), read again
    from the same window; then the orders' mark moves. Without an earlier pass (a run
    without contacts' overlap, a dry run) this is the whole orders step."""
    if "orders" not in changes.windows:
        sync_orders(engine, changes)
        return
    if left:
        _send_orders(engine, changes.again("orders"))
    changes.done("orders")


def _send_orders(engine: SyncEngine, chunks: Iterator[pd.DataFrame]) -> None:
    if engine.options.dry_run:
        for pending in chunks:
            valid = engine.orders.validate(pending)
            del pending
            if valid.empty:
                continue
            push_guests(engine, valid["customer_email"].tolist())
            engine.orders.push(valid)
    else:
        order_stream.send_orders(engine, order_stream.prepared_orders(
            engine, chunks, push_guests))


def prepare_certificates(engine: SyncEngine, changes: Changes) -> pd.DataFrame:
    """Pending certificates, validated (rejects recorded) and their recipients' contacts
    pushed, in one frame: the send cap is decided on all of them before the first
    send, and a run sends at most DOTSYNC_MAX_SENDS_PER_RUN. Their window stays open
    until :func:`sync_certificates`."""
    frames = []
    for pending in changes.pending("certificates"):
        valid = engine.certificates.validate(pending)
        if valid.empty:
            continue
        push_guests(engine, valid["recipient_email"].tolist())
        frames.append(valid)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def sync_certificates(engine: SyncEngine, changes: Changes, valid: pd.DataFrame) -> None:
    """Send the prepared certificates exactly once, then move the certificates' mark."""
    if not valid.empty:
        engine.send_certificates(valid)
    changes.done("certificates")


def sync_products(engine: SyncEngine, changes: Changes) -> None:
    """Changed products into their stores' catalogues (imports and record deletes),
    then move the products' mark."""
    engine.products.sync(changes.pending("products"))
    changes.done("products")


def sync_carts(engine: SyncEngine, changes: Changes) -> None:
    """Pending carts, chunk by chunk (sent as CartInsight records, their enrolments
    decided), while earlier enrolments are read back in the background; then the carts
    an order of this run converted, those read-backs settled and the carts whose idle
    time came. A store with no carts costs one query."""
    if not engine.store.has_staged("carts"):
        return
    engine.carts.read_back_meanwhile()
    try:
        for pending in changes.pending("carts"):
            engine.carts.push(pending)
        engine.carts.recheck_converted()
        engine.carts.enrol_due()
    finally:
        engine.carts.stop_reading()
    changes.done("carts")


def all_pending(changes: Changes, entity: str) -> pd.DataFrame:
    """Every pending row of ``entity`` in one frame (memory follows the changes; the
    steps above use the chunks instead). Moves no mark."""
    frames = list(changes.pending(entity))
    changes.abandon(entity)
    if not frames:
        from dotsync.store.schema import ENTITY_COLUMNS

        columns = [*ENTITY_COLUMNS[entity], "_hash"]
        if entity == "customers":
            columns.append("_email_norm")
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True).drop_duplicates(ENTITY_KEYS[entity])
