"""Orders built ahead while a backfill's last contact imports run.

A backfill sends its contacts first, and an order goes only once its contact is in
Dotdigital. The last contact imports are then left to run (Dotdigital processes each
for a while, and they are polled at most every 30 seconds), and the process had
nothing to do meanwhile: at 1M customers / 2M orders, half a minute with the CPU idle
before the first insight body was even built.

Here the first insight imports are built during that wait. The orders read meanwhile
are prepared without the contact gate (marked ``_ahead``), and up to as many bodies
as Dotdigital lets run at once are built, while the contact imports are followed as
they come due. Nothing is submitted before every contact is settled. Then the gate is
asked for each order built ahead: one whose contact is not in Dotdigital is taken out
of its body and left waiting with its contact's reason, as it would have been had it
been prepared after the contacts; the others go unchanged.

Later, while all five insight imports run, bodies go on being built ahead (up to five
more), so the CPU keeps working while the slots are taken. Every body is built in a
temporary file, with what its records need to be settled, so bodies waiting for a
slot cost no memory: the backfill's peak stays where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from dotsync.dotdigital.wire import FileBody, SerializedChunk
from dotsync.sync.inflight import Kept, SpooledRows
from dotsync.sync.steps.bulk_import import KeptRows
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.items import OrderRow
from dotsync.sync.steps.order_send import ORDER_SETTLE_FIELDS, OrderImport

#: What an order in flight keeps here: the usual, and whether it was built ahead.
AHEAD_FIELDS = (*ORDER_SETTLE_FIELDS, "_ahead")
_EMAIL = AHEAD_FIELDS.index("customer_email")
_AHEAD = AHEAD_FIELDS.index("_ahead")
#: Spooled rows read back at a time when some of a body built ahead must wait.
_READ_BATCH = 20_000


class AheadOrderImport(OrderImport):
    """:class:`OrderImport` whose first bodies are built before this run's contacts are
    settled: ``settled()`` says whether they are, ``settle()`` waits for them (and is
    called before the first body is handed over for submission, whatever happens).

    Bodies are also built ahead while every import slot is taken (up to as many as may
    run at once), so the CPU is not idle while the imports run; a body is built on
    disk and waits there, with what its records need to be settled.
    """

    fields = AHEAD_FIELDS
    on_disk = True

    def __init__(self, ctx: RunContext, *, settled: Callable[[], bool],
                 settle: Callable[[], None]) -> None:
        super().__init__(ctx)
        self._settled = settled
        self._settle = settle
        #: What each body handed over keeps (its rows, or their spool), by the body's id.
        self._kept: dict[int, list[tuple[Any, ...]] | SpooledRows] = {}

    def pack(self, item: OrderRow) -> tuple[Any, ...]:
        return (*super().pack(item), bool(item.get("_ahead")))

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        return self._gated(iter(super().chunks(payloads, on_oversize)))

    def ahead(self) -> int:
        return self.in_flight()

    def hold(self, chunk: Sequence[Any]) -> Sequence[Any]:
        # The body is on disk already (``on_disk``): its settle rows join it there.
        self._kept[id(chunk)] = _spool(self._kept.pop(id(chunk)))
        return chunk

    def keep(self, chunk: Sequence[Any]) -> KeptRows:
        rows = self._kept.pop(id(chunk))
        return Kept(self.fields, rows) if isinstance(rows, list) else rows

    def sent(self, chunk: Sequence[Any]) -> None:
        super().sent(chunk)
        _close(chunk)  # a body built ahead, sent from its file

    def _gated(self, built: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """The bodies as they are built, the first ones held (on disk) until the contacts
        are settled, each checked against the contact gate before it is handed over
        (a body left with no order is not)."""
        early: list[tuple[Sequence[Any], SpooledRows]] = []
        try:
            while not self._settled() and len(early) < self.in_flight():
                chunk = next(built, None)
                if chunk is None:
                    break
                early.append((chunk, _spool(self.take(chunk))))
                del chunk
                # Follow the contact imports that came due while this body was built.
                self.ctx.wait_until(time.monotonic())
            self._settle()
        except BaseException:
            for chunk, spool in early:
                _close(chunk)
                spool.close()
            raise
        while early:
            chunk, spooled = early.pop(0)
            emails = spooled.column("customer_email")
            waiting = self._waiting(emails, range(len(emails)))
            rows: list[tuple[Any, ...]] | SpooledRows = spooled
            if waiting:
                chunk, left = self._without(chunk, _tuples(spooled), waiting)
                rows = left
            if len(chunk):
                self._kept[id(chunk)] = rows
                yield chunk
        for chunk in built:
            taken = self.take(chunk)
            waiting = self._waiting([row[_EMAIL] for row in taken],
                                    [i for i, row in enumerate(taken) if row[_AHEAD]])
            if waiting:
                chunk, taken = self._without(chunk, taken, waiting)
            if len(chunk):
                self._kept[id(chunk)] = taken
                yield chunk

    def _waiting(self, emails: Sequence[Any], asked: Iterable[int]) -> dict[int, str]:
        """Of the orders at positions ``asked`` (built ahead), those whose contact is not
        in Dotdigital: the reason each waits, by position."""
        asked = list(asked)
        if not asked:
            return {}
        gate = self.ctx.contact_gate(emails[i] for i in asked)
        return {i: reason for i in asked if (reason := gate.get(emails[i]))}

    def _without(self, chunk: Sequence[Any], rows: list[tuple[Any, ...]],
                 waiting: dict[int, str]) -> tuple[list[Any], list[tuple[Any, ...]]]:
        """``chunk`` without the orders at the positions ``waiting``, which are left
        waiting for their contact (pending, with the reason), as the gate leaves them."""
        held = [dict(zip(self.fields, rows[i], strict=True)) for i in sorted(waiting)]
        reasons = {row["customer_email"]: waiting[i]
                   for i, row in zip(sorted(waiting), held, strict=True)}
        self.ctx.wait_for_contact("orders", held, reasons, "customer_email")
        left = [i for i in range(len(rows)) if i not in waiting]
        # The records left, as they were serialised (the client splices them).
        records = [chunk[i] for i in left]
        _close(chunk)
        return records, [rows[i] for i in left]


def _spool(rows: list[tuple[Any, ...]] | SpooledRows) -> SpooledRows:
    """Rows kept for a body built ahead, in a temporary file until it is settled."""
    if isinstance(rows, SpooledRows):
        return rows
    spool = SpooledRows(AHEAD_FIELDS)
    for row in rows:
        spool.append(row)
    return spool


def _tuples(rows: SpooledRows) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for batch in rows.batches(_READ_BATCH):
        out += [tuple(row[f] for f in AHEAD_FIELDS) for row in batch]
    return out


def _close(chunk: Sequence[Any]) -> None:
    if isinstance(chunk, SerializedChunk) and isinstance(chunk.body, FileBody):
        chunk.body.close()
