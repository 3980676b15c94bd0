"""The order-confirmations step: the confirmation e-mail, once per order, owed since
its first sync (after the orders step, and after the send cap was decided).

The owed confirmations are read from the ledger (``pending`` or ``failed``), so one
a crash or a transient failure left behind goes out with the next run. They are
read, planned and sent a chunk at a time (:mod:`dotsync.sync.confirmations`), and
never more than the send cap was decided on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pandas as pd

from dotsync.sync import payloads
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.exactly_once import Send, send_once
from dotsync.sync.steps.orders import Orders
from dotsync.sync.steps.records import records
from dotsync.sync.transactional import confirmation_skip

#: (key, why) of a send this run does not make.
Skip = tuple[str, str]


class Confirmations:
    """Plans and sends one run's order confirmations."""

    def __init__(self, ctx: RunContext, orders: Orders) -> None:
        self.ctx = ctx
        self.orders = orders

    @property
    def enabled(self) -> bool:
        return bool(self.ctx.settings.order_campaign and self.ctx.options.confirmations)

    def send(self) -> None:
        """Send what is owed, chunk by chunk, up to what the send cap counted."""
        if not self.enabled:
            return
        ctx = self.ctx
        counts = ctx.report.counts["confirmations"]
        left = ctx.send_plan.confirmations if ctx.send_plan is not None else None
        for sends, skipped in self.chunks():
            if left is not None:
                sends, left = sends[:left], max(0, left - len(sends))
            if ctx.options.dry_run:
                counts.sent += len(sends)
                ctx.count_skips("confirmations", skipped)
                continue
            if skipped:
                # Never owed after all: the ledger forgets them, so no later run sends one.
                ctx.ledger.forget("confirmations", [k for k, _ in skipped])
                ctx.settled["confirmations"].update(k for k, _ in skipped)
                ctx.count_skips("confirmations", skipped)
            send_once(ctx, "confirmations", sends)

    def chunks(self) -> Iterator[tuple[list[Send], list[Skip]]]:
        """The confirmations this run sends, and those it skips with the reason, a chunk
        of owed keys at a time.

        Owed ones are read from the ledger (``pending`` or ``failed``); a dry run adds
        the orders it would sync for the first time. Each is checked against
        DOTSYNC_NO_CONFIRMATION_STATUSES, DOTSYNC_CONFIRMATION_MAX_AGE and the moment
        confirmations were enabled, on the staged order as it is now.
        """
        from dotsync.sync.confirmations import owed_keys

        if not self.enabled:
            return
        ctx = self.ctx
        now = ctx.options.now()
        enabled = ctx.confirmations_enabled_at
        planned: set[str] = set()
        if ctx.options.dry_run and ctx.first_synced_orders:
            sends: list[Send] = []
            skipped: list[Skip] = []
            for row in ctx.first_synced_orders:
                why = confirmation_skip(row.get("status"), row.get("placed_at"), now, enabled,
                                        ctx.settings)
                if why:
                    skipped.append((str(row["order_id"]), why))
                else:
                    sends.append(Send(str(row["order_id"]), row["customer_email"], None))
            planned = {s.key for s in sends} | {k for k, _ in skipped}
            yield sends, skipped
        for keys in owed_keys(ctx.store.engine, ctx.options.confirmations_chunk):
            owed = [k for k in keys
                    if k not in ctx.settled["confirmations"] and k not in planned]
            if owed:
                yield self._plan_owed(owed, now, enabled)

    def _plan_owed(self, owed: list[str], now: pd.Timestamp, enabled: datetime | None
                   ) -> tuple[list[Send], list[Skip]]:
        ctx = self.ctx
        sends: list[Send] = []
        skipped: list[Skip] = []
        staged = ctx.store.read_staged("orders", owed)
        valid = self.orders.validate(staged, record=False)
        for o in records(valid):
            why = confirmation_skip(o.get("status"), o.get("placed_at"), now, enabled,
                                    ctx.settings)
            if why:
                skipped.append((str(o["order_id"]), why))
            else:
                sends.append(Send(str(o["order_id"]), o["customer_email"],
                                  ctx.order_campaign_id,
                                  payloads.confirmation_personalisation(o)))
        return sends, skipped
