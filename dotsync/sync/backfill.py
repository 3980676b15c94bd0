"""The bulk first load (or re-load) as plain Python: everything pending in the staging
store, through Dotdigital's bulk import endpoints only, streamed.

Memory stays flat whatever the table sizes: staged rows are read ``chunk_rows`` at a
time from a server-side cursor, and a chunk is read only when an import slot is free
(25 contact imports and 5 insight imports in flight at most), so the reading is paced
by Dotdigital. Imports are sized by bytes. Every outcome is written to the ledger as
its import finishes, so a backfill that is stopped and started again skips everything
that already finished: what is ``synced`` is not pending any more.

Order confirmations are never sent by a backfill (years of history must not e-mail
customers); certificates only when asked, and then exactly once like in the sync.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync import failpoints
from dotsync.store.schema import customers as customers_table
from dotsync.store.status import source_hashes
from dotsync.sync.engine import RunFailed, SyncEngine, _norm_email
from dotsync.sync.transactional import EXPIRED, SendPlan, cap_exceeded


class Backfill:
    """Streams the staging store through a :class:`SyncEngine` set up for bulk."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        since: str | pd.Timestamp | None = None,
        chunk_rows: int = 50_000,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.chunk_rows = chunk_rows
        self.since = None if since in (None, "") else _parse_since(since)
        self.rows_read = 0

    # -- selection ------------------------------------------------------------------

    def _pending(self, entity: str, chunk: pd.DataFrame) -> pd.DataFrame:
        """The rows of a chunk that need processing (and changed since ``since``)."""
        if chunk.empty:
            return chunk.assign(_hash=pd.Series([], dtype=object))
        hashes = source_hashes(entity, chunk)
        mask = self.engine.ledger.pending(entity, chunk, hashes)
        if self.since is not None:
            updated = pd.to_datetime(chunk["updated_at"], errors="coerce", utc=True,
                                     format="ISO8601")
            # An unreadable timestamp is kept: the contract will reject it with a reason.
            mask &= updated.isna() | (updated >= self.since)
        return chunk.loc[mask].assign(_hash=hashes[mask])

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
            chunk["_email_norm"] = _norm_email(chunk["email"])
            if carry is not None and not carry.empty:
                chunk = pd.concat([carry, chunk], ignore_index=True)
            last = chunk["_email_norm"].iloc[-1]
            tail = chunk["_email_norm"] == last if last is not None else chunk.index < 0
            carry = chunk[tail]
            yield chunk[~tail]
        if carry is not None and not carry.empty:
            yield carry

    def contact_items(self) -> Iterator[dict[str, Any]]:
        for chunk in self._customer_chunks():
            self.rows_read += len(chunk)
            pending = self._pending("customers", chunk)
            if pending.empty:
                continue
            emails = set(pending["_email_norm"].dropna())
            group = chunk[chunk["_email_norm"].isin(emails)
                          | chunk["customer_id"].isin(pending["customer_id"])]
            group = group.assign(_hash=source_hashes("customers", group))
            items = deque(self.engine.contact_items(group, set(pending["customer_id"])))
            del chunk, pending, group
            while items:  # hand each item over and let it go: memory stays flat
                yield items.popleft()

    def guest_items(self, include_certificates: bool) -> list[dict[str, Any]]:
        """E-mail-only contacts for order (and recipient) e-mails no customer row has.

        The database finds the candidates (so a million order e-mails never come into
        memory); the few it returns are normalised and checked against the customers
        once more in Python, whose trimming is wider than SQL's ``trim``.
        """
        from data_contracts import normalise_email

        wanted: set[str] = set()
        columns = [("orders", "customer_email")]
        if include_certificates:
            columns.append(("certificates", "recipient_email"))
        for entity, column in columns:
            for raw in self.store.emails_without_customer(entity, column):
                email, _reason = normalise_email(raw)
                if email:
                    wanted.add(email)
        if not wanted:
            return []
        holders = self.engine.customers_with_emails(wanted)
        return self.engine.guest_items(wanted, set(holders["_email_norm"].dropna()))

    def push_contacts(self, include_certificates: bool = False) -> None:
        with bulk_collector():
            self.engine.push_contacts(self.contact_items(), bulk=True)
            self.engine.push_contacts(self.guest_items(include_certificates), bulk=True)

    # -- orders and certificates -------------------------------------------------------

    def order_rows(self) -> Iterator[dict[str, Any]]:
        for chunk in self.store.iter_staged("orders", self.chunk_rows):
            self.rows_read += len(chunk)
            pending = self._pending("orders", chunk)
            if pending.empty:
                continue
            valid = self.engine.validate_orders(pending)
            rows = deque(self.engine.prepare_orders(valid))
            del chunk, pending, valid
            while rows:
                row = rows.popleft()
                yield row
                row.pop("_payload", None)  # serialised by now; the bytes are in the chunk

    def push_orders(self) -> None:
        engine = self.engine
        if engine.options.dry_run:
            sent = sum(1 for _ in self.order_rows())
            engine.report.counts["orders"].sent += sent
            return
        with bulk_collector():
            missing = engine._send_orders(self.order_rows(), bulk=True)
        engine.retry_missing_contacts(missing)

    def count_certificate_sends(self) -> SendPlan:
        """How many pending certificates this backfill would send (a read-only pass:
        nothing is recorded), for the send cap."""
        from data_contracts import validate_certificates

        plan = SendPlan()
        campaign = self.engine.settings.certificate_campaign_id
        for chunk in self.store.iter_staged("certificates", self.chunk_rows):
            pending = self._pending("certificates", chunk)
            if pending.empty:
                continue
            valid = validate_certificates(pending.drop(columns=["_hash"]), campaign).valid
            ready, _waiting, expired, _gate = self.engine.plan_certificates(valid)
            plan.certificates += len(ready)
            plan.skip(EXPIRED, len(expired))
        return plan

    def send_certificates(self) -> None:
        engine = self.engine
        plan = self.count_certificate_sends()
        by_flag = engine.options.allow_sends is not None
        allowed = engine.options.allow_sends if by_flag else engine.settings.max_sends_per_run
        problem = cap_exceeded(plan, int(allowed or 0), by_flag)
        engine.send_plan = plan
        if engine.options.dry_run:
            engine.report.notes.append(f"dry run: the backfill would send {plan.describe()}"
                                       + (f"; it would fail: {problem}" if problem else ""))
        else:
            failpoints.hit("after_send_cap")
            if problem:
                raise RunFailed(problem.replace("dotsync sync --allow-sends",
                                                "dotsync backfill --include-certificates "
                                                "--allow-sends").replace(
                    "the sync flow's allow_sends", "the backfill flow's allow_sends"))
        for chunk in self.store.iter_staged("certificates", self.chunk_rows):
            self.rows_read += len(chunk)
            pending = self._pending("certificates", chunk)
            if not pending.empty:
                self.engine.send_certificates(self.engine.validate_certificates(pending))


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
