"""Changed orders as one stream through the insight imports: chunks pipelined.

The scheduled sync used to send each chunk of changed orders and wait for its
imports to finish before reading the next chunk, so a run with many changes paid
one full import wait (a submission, then polls every few seconds) per chunk, with
the worker idle meanwhile. Here the chunks are one lazy stream of prepared orders
behind the orders step's bulk path (:class:`~dotsync.sync.steps.order_send.OrderImport`),
which takes a new import's records only when one of the 5 insight import slots
Dotdigital allows is free: the next chunk is read, validated and submitted while
earlier imports run, and each import is settled in the ledger as soon as its report says it ended.

What holds as before:

* **contacts first**: the customers' contacts, and the e-mail-only contacts of the
  guests among the changed orders, were pushed (and settled) by the contacts step;
  a guest that step could not know (a run limited to orders, an order stamped since)
  is pushed and settled when its chunk is read, before any of its orders is prepared;
* **memory** follows the chunk size and the imports in flight: one prepared chunk
  is held at a time, and an import in flight keeps only the few fields that settle
  its orders (:class:`dotsync.sync.inflight.Kept`), at most ``records_in_flight``;
* **exactly once**: an order's confirmation is owed only when its import settled it
  ``synced`` for the first time, so a crash between a submission and its report
  leaves the order unsettled; the mark has not moved, the next run reads it again
  and upserts the same record key (no second record), and owes one confirmation.

Few orders (up to ``bulk_threshold``) still go as single upserts, decided on the
first rows of the stream, as the contacts step does for contacts.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from dotsync.sync.engine import SyncEngine
from dotsync.sync.steps.items import OrderRow


def prepared_orders(engine: SyncEngine, chunks: Iterable[pd.DataFrame],
                    push_guests: Any, left: list[bool] | None = None) -> Iterator[OrderRow]:
    """The orders of ``chunks`` that need a call, prepared, one at a time.

    Each chunk is validated (rejects and warnings recorded), the contacts of its
    guests not pushed yet pushed with ``push_guests(engine, emails)``, then prepared
    (orders waiting for their contact, or unchanged, are settled here). Only the
    chunk being handed over is held: a row handed over is the consumer's (an import
    keeps its payload serialised and the few fields that settle it, not the row).

    With ``push_guests`` None (this run's contacts may still be in flight), only the
    orders whose contact is already in Dotdigital are prepared; the others are left
    untouched (no ledger write), and ``left[0]`` says whether there were any.
    """
    for pending in chunks:
        valid = engine.orders.validate(pending)
        del pending
        if valid.empty:
            continue
        gate = None
        if push_guests is None:
            gate = engine.ctx.contact_gate(valid["customer_email"])
            exists = [isinstance(e, str) and bool(e) and e in gate and gate[e] is None
                      for e in valid["customer_email"].tolist()]
            if not all(exists):
                if left is not None:
                    left[0] = True
                valid = valid[exists]
        else:
            push_guests(engine, valid["customer_email"].tolist())
        rows = deque(engine.orders.prepare(valid, gate))
        del valid
        while rows:
            yield rows.popleft()


def send_orders(engine: SyncEngine, rows: Iterator[OrderRow]) -> int:
    """Send a stream of prepared orders; returns how many went to Dotdigital.

    Up to ``bulk_threshold`` orders in the whole stream go as single upserts; more go
    through insight imports, the stream read only as import slots free up. Orders
    refused because their contact is missing are retried after the contact is pushed
    again (:meth:`dotsync.sync.steps.orders.Orders.retry_missing_contacts`).
    """
    threshold = max(0, engine.options.bulk_threshold)
    head = list(itertools.islice(rows, threshold + 1))
    if len(head) <= threshold:
        missing = engine.orders.send(head, bulk=False)
        engine.orders.retry_missing_contacts(missing)
        return len(head)
    sent = len(head)

    def counted() -> Iterator[OrderRow]:
        nonlocal sent
        yield from head
        head.clear()
        for row in rows:
            sent += 1
            yield row

    missing = engine.orders.send(counted(), bulk=True)
    engine.orders.retry_missing_contacts(missing)
    return sent
