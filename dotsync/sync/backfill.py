"""The bulk first load (or re-load) as plain Python: everything pending in the staging
store, through Dotdigital's bulk import endpoints only, streamed.

Memory stays flat whatever the table sizes: staged rows are read ``chunk_rows`` at a
time from a server-side cursor, paced by Dotdigital's import slots (25 contact and 5
insight imports in flight; 5 more insight bodies built ahead, on disk). Imports are
sized by bytes. Every outcome is written to the ledger as
its import finishes, so a backfill that is stopped and started again skips everything
that already finished: what is ``synced`` is not pending any more.

Order confirmations are never sent by a backfill (years of history must not e-mail
customers); certificates only when asked, and then exactly once like in the sync.
"""

from __future__ import annotations

import gc
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync import failpoints
from dotsync.store.changes import ChangeFeed, Window
from dotsync.store.schema import customers as customers_table
from dotsync.store.status import source_hashes
from dotsync.sync import changed, guests
from dotsync.sync.changed import Changes
from dotsync.sync.engine import SyncEngine
from dotsync.sync.steps import send_cap
from dotsync.sync.steps.contact_send import Pushing
from dotsync.sync.steps.items import ContactItem, OrderRow
from dotsync.sync.steps.options import BACKFILL_CHUNK_ROWS
from dotsync.sync.steps.orders_ahead import AheadOrderImport
from dotsync.sync.steps.records import norm_email
from dotsync.sync.transactional import EXPIRED, SendPlan


@dataclass(frozen=True)
class BackfillStep:
    """One step of the backfill: its name (the Prefect task's), what it does, and
    whether it runs only when certificates are included."""

    name: str
    doc: str
    run: Callable[[Backfill, bool], None]
    certificates_only: bool = False


#: The backfill's steps, in their order: contacts before the orders and certificates
#: that need them. Declared once; the plain runner and the flow both iterate it.
BACKFILL_STEPS: tuple[BackfillStep, ...] = (
    BackfillStep("backfill-contacts",
                 "Every pending customer, merged by e-mail, and the guests' contacts: "
                 "bulk only. The last imports may still run when it ends (the orders "
                 "step settles them).",
                 lambda job, certificates: job.push_contacts(certificates)),
    BackfillStep("backfill-orders",
                 "Every pending order whose contact is in Dotdigital, through insight "
                 "imports; the first built while the last contact imports run, none "
                 "submitted before they are settled.",
                 lambda job, _certificates: job.push_orders()),
    BackfillStep("backfill-certificates",
                 "Pending certificates, exactly once (only when the backfill is asked "
                 "to).",
                 lambda job, _certificates: job.send_certificates(),
                 certificates_only=True),
)


def backfill_steps(include_certificates: bool) -> list[BackfillStep]:
    """The steps a backfill runs, in order."""
    return [s for s in BACKFILL_STEPS if include_certificates or not s.certificates_only]


class Backfill:
    """Streams the staging store through a :class:`SyncEngine` set up for bulk."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        since: str | pd.Timestamp | None = None,
        chunk_rows: int = BACKFILL_CHUNK_ROWS,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.chunk_rows = chunk_rows
        self.since = None if since in (None, "") else _parse_since(since)
        self.rows_read = 0
        self.feed = ChangeFeed(self.store.engine)
        #: With ``since`` on a store whose runs keep change marks, only the records
        #: stamped since the marks (and those to retry) are read: a re-load of the
        #: last days costs what changed, not the store.
        self.changes: Changes | None = None
        #: The contacts' imports still in flight and the customers' window, between the
        #: contacts step and the first order import (:meth:`settle_contacts`).
        self._contacts: tuple[Pushing, Window] | None = None
        if self.since is not None and all(
                self.feed.mark(e) > 0 for e in ("customers", "orders")):
            self.changes = Changes(engine, chunk_rows=chunk_rows, keep=self._since_mask)

    # -- selection ------------------------------------------------------------------

    def _since_mask(self, chunk: pd.DataFrame) -> pd.Series:
        """Rows updated since ``since``; an unreadable timestamp is kept (the contract
        will reject it with a reason)."""
        updated = pd.to_datetime(chunk["updated_at"], errors="coerce", utc=True,
                                 format="ISO8601")
        return updated.isna() | (updated >= self.since)

    def _pending(self, entity: str, chunk: pd.DataFrame,
                 hashes: pd.Series | None = None) -> pd.DataFrame:
        """The rows of a chunk that need processing (and changed since ``since``);
        ``hashes``, the chunk's fingerprints, when the caller has them already."""
        if chunk.empty:
            return chunk.assign(_hash=pd.Series([], dtype=object))
        if hashes is None:
            hashes = source_hashes(entity, chunk)
        mask = self.engine.ledger.pending(entity, chunk, hashes)
        if self.since is not None:
            mask &= self._since_mask(chunk)
        return chunk.loc[mask].assign(_hash=hashes[mask])

    @contextmanager
    def _window(self, entity: str) -> Iterator[None]:
        """A full read of ``entity`` (no ``since``, not a dry run) processes every record:
        once it is done, the entity's mark moves to where the read began, and the next
        sync reads only what changed after."""
        full = self.since is None and not self.engine.options.dry_run
        window = self.feed.open(entity)
        done = False
        try:
            yield
            done = True
            failpoints.hit("before_mark")
        finally:
            self.feed.close(window, processed=full and done)
        failpoints.hit("after_mark")

    def total_rows(self, include_certificates: bool) -> int:
        entities = ["customers", "orders"] + (["certificates"] if include_certificates else [])
        return sum(self.store.count_staged(e) for e in entities)

    # -- contacts -------------------------------------------------------------------

    def _customer_chunks(self) -> Iterator[pd.DataFrame]:
        """Customer rows ordered by normalised e-mail, never splitting one e-mail's rows
        across chunks (they merge into one contact)."""
        order = sa.func.lower(sa.func.trim(customers_table.c.email))
        carry: pd.DataFrame | None = None
        for chunk in self.store.iter_staged("customers", self.chunk_rows, order_by=order):
            chunk["_email_norm"] = norm_email(chunk["email"])
            if carry is not None and not carry.empty:
                chunk = pd.concat([carry, chunk], ignore_index=True)
            last = chunk["_email_norm"].iloc[-1]
            tail = chunk["_email_norm"] == last if last is not None else chunk.index < 0
            carry = chunk[tail]
            yield chunk[~tail]
        if carry is not None and not carry.empty:
            yield carry

    def contact_items(self) -> Iterator[ContactItem]:
        if self.changes is not None:
            yield from changed.contact_items(self.engine, self._counted("customers"))
            return
        for chunk in self._customer_chunks():
            self.rows_read += len(chunk)
            hashes = source_hashes("customers", chunk)  # once: the group is of the chunk
            pending = self._pending("customers", chunk, hashes)
            if pending.empty:
                continue
            emails = set(pending["_email_norm"].dropna())
            group = chunk[chunk["_email_norm"].isin(emails)
                          | chunk["customer_id"].isin(pending["customer_id"])]
            group = group.assign(_hash=hashes.loc[group.index])
            items = deque(self.engine.contacts.items(group, set(pending["customer_id"])))
            del chunk, pending, group, hashes
            while items:  # hand each item over and let it go: memory stays flat
                yield items.popleft()

    def guest_items(self, include_certificates: bool) -> list[ContactItem]:
        """E-mail-only contacts for order (and recipient) e-mails no customer row has.

        The database finds the candidates (so a million order e-mails never come into
        memory); the few it returns are normalised and checked against the customers
        once more (:func:`dotsync.sync.guests.items`, as the sync does).
        """
        entities = ["orders"] + (["certificates"] if include_certificates else [])
        wanted: set[str] = set()
        for entity in entities:
            wanted |= guests.normalised(
                self.store.emails_without_customer(entity, guests.GUEST_COLUMNS[entity]))
        return guests.items(self.engine, wanted)

    def _counted(self, entity: str) -> Iterator[pd.DataFrame]:
        """Pending rows of ``entity`` through the change stamps (``since`` mode)."""
        assert self.changes is not None
        for chunk in self.changes.pending(entity):
            self.rows_read += len(chunk)
            yield chunk
        self.changes.abandon(entity)

    def push_contacts(self, include_certificates: bool = False) -> None:
        if self.changes is None and not self.engine.options.dry_run:
            self._start_contacts(include_certificates)
            return
        with bulk_collector(), self._window("customers"):
            if self.changes is None:
                # One pipeline: the guests' contacts fill the customers' last import
                # instead of an import of their own, submitted (and polled, 5-30 s
                # later) only once the customers' imports had all ended.
                self.engine.push_contacts(itertools.chain(
                    self.contact_items(), self._guest_stream(include_certificates)),
                    bulk=True)
            else:  # guests go with their orders and certificates, chunk by chunk
                self.engine.push_contacts(self.contact_items(), bulk=True)
                self.engine.contacts.erasures.erase()

    def _start_contacts(self, include_certificates: bool) -> None:
        """Every contact submitted; the last imports are left running, settled by
        :meth:`settle_contacts` (the orders step builds its first imports meanwhile),
        and only then does the customers' mark move."""
        window = self.feed.open("customers")
        try:
            with bulk_collector():
                pushing = self.engine.push_contacts(itertools.chain(
                    self.contact_items(), self._guest_stream(include_certificates)),
                    bulk=True, settle=False)
        except BaseException:
            self.feed.close(window, processed=False)
            raise
        self._contacts = (pushing, window)

    def contacts_settled(self) -> bool:
        """Whether no contact import of this backfill is still in flight."""
        return self._contacts is None or self._contacts[0].settled

    def settle_contacts(self) -> None:
        """Follow the contact imports still in flight to their end and settle them; then
        the customers' mark moves (a full read). Nothing when none is in flight."""
        if self._contacts is None:
            return
        (pushing, window), self._contacts = self._contacts, None
        done = False
        try:
            with bulk_collector():
                pushing.finish()
            done = True
            failpoints.hit("before_mark")
        finally:
            self.feed.close(window, processed=done)
        failpoints.hit("after_mark")

    def abandon_contacts(self) -> None:
        """Give up the contact imports still in flight (a step failed first): the
        customers' mark stays, so a later run reads those customers again."""
        if self._contacts is not None:
            (_pushing, window), self._contacts = self._contacts, None
            self.feed.close(window, processed=False)

    def _guest_stream(self, include_certificates: bool) -> Iterator[ContactItem]:
        """:meth:`guest_items`, found when the customers have all been read."""
        yield from self.guest_items(include_certificates)

    # -- orders and certificates -------------------------------------------------------

    def _order_chunks(self) -> Iterator[pd.DataFrame]:
        if self.changes is not None:
            yield from self._counted("orders")
            return
        for chunk in self.store.iter_staged("orders", self.chunk_rows):
            self.rows_read += len(chunk)
            yield self._pending("orders", chunk)

    def order_rows(self) -> Iterator[OrderRow]:
        for pending in self._order_chunks():
            if pending.empty:
                continue
            valid = self.engine.orders.validate(pending)
            if self.changes is not None and not valid.empty:
                changed.push_guests(self.engine, valid["customer_email"].tolist())
            rows = deque(self.engine.orders.prepare(valid))
            del pending, valid
            while rows:
                row = rows.popleft()
                yield row
                row.pop("_payload", None)  # serialised by now; the bytes are in the chunk

    def push_orders(self) -> None:
        engine = self.engine
        try:
            with self._window("orders"):
                if engine.options.dry_run:
                    sent = sum(1 for _ in self.order_rows())
                    engine.report.counts["orders"].sent += sent
                    return
                with bulk_collector():
                    if self._contacts is None:
                        missing = engine.orders.send(self.order_rows(), bulk=True)
                    else:
                        missing = self._orders_ahead_of_contacts()
                engine.orders.retry_missing_contacts(missing)
        finally:
            self.abandon_contacts()  # settled by now, unless the step failed first

    def _orders_ahead_of_contacts(self) -> list[Any]:
        """The orders through insight imports, the first ones built while the contact
        imports still run (:mod:`dotsync.sync.steps.orders_ahead`)."""
        orders = self.engine.orders

        def settle() -> None:
            orders.ahead = False  # the orders prepared from now on pass the gate as usual
            self.settle_contacts()

        orders.ahead = True
        try:
            return AheadOrderImport(self.engine.ctx, settled=self.contacts_settled,
                                    settle=settle).run(self.order_rows())
        finally:
            orders.ahead = False

    def _certificate_chunks(self) -> Iterator[pd.DataFrame]:
        if self.changes is not None:
            yield from self._counted("certificates")
            return
        for chunk in self.store.iter_staged("certificates", self.chunk_rows):
            self.rows_read += len(chunk)
            yield self._pending("certificates", chunk)

    def count_certificate_sends(self) -> SendPlan:
        """How many pending certificates this backfill would send (a pass that records
        nothing, for the send cap; with ``since``, it pushes the recipients' contacts
        first, as the full backfill's contact step does, so none is counted waiting)."""
        from dotsync.data_contracts import validate_certificates

        plan = SendPlan()
        campaign = self.engine.settings.certificate_campaign_id
        for pending in self._certificate_chunks():
            if pending.empty:
                continue
            valid = validate_certificates(pending.drop(columns=["_hash"]), campaign).valid
            if self.changes is not None and not valid.empty \
                    and not self.engine.options.dry_run:
                changed.push_guests(self.engine, valid["recipient_email"].tolist())
            sorted_ = self.engine.certificates.plan(valid)
            plan.certificates += len(sorted_.ready)
            plan.skip(EXPIRED, len(sorted_.expired))
        return plan

    def send_certificates(self) -> None:
        self.settle_contacts()  # the orders step did, unless it was not run
        send_cap.decide(self.engine.ctx, self.count_certificate_sends(), "the backfill",
                        fix=lambda problem: problem.replace(
                            "dotsync sync --allow-sends",
                            "dotsync backfill --include-certificates --allow-sends").replace(
                            "the sync flow's allow_sends", "the backfill flow's allow_sends"))
        with self._window("certificates"):
            for pending in self._certificate_chunks():
                if pending.empty:
                    continue
                valid = self.engine.certificates.validate(pending)
                if self.changes is not None and not valid.empty:
                    changed.push_guests(self.engine, valid["recipient_email"].tolist())
                self.engine.send_certificates(valid)


@contextmanager
def bulk_collector(young: int = 50_000) -> Iterator[None]:
    """Keep Python's cyclic garbage collector from dominating a bulk load.

    A backfill builds and drops millions of small dicts and lists. With the default
    settings the collector runs every 700 allocations and, as those objects are
    promoted, keeps re-scanning everything alive (Prefect, pandas, the modules):
    measured on 200,000 orders, building their records took 3.5x as long with it, and
    the whole local pipeline 10-15% longer. ``gc.freeze()`` puts what is
    alive now out of its sight, and a higher first threshold makes young collections
    rarer; cycles are still collected, so nothing leaks.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _parse_since(value: str | pd.Timestamp) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"since must be an ISO 8601 date or timestamp, got {value!r}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
