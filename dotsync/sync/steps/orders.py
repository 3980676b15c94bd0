"""The orders step: staged orders, validated, as insight records.

An order goes once its contact is in Dotdigital (else it waits, ``pending`` with the
reason) and only when its record differs from the one last sent. Sending is
:mod:`.order_send`'s; an order refused because its contact is missing has the
contact pushed again (the contacts step) and is retried once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import pandas as pd

from dotsync.masking import mask_email
from dotsync.store.status import source_hashes
from dotsync.sync import payloads
from dotsync.sync.steps.contacts import Contacts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.items import OrderRow
from dotsync.sync.steps.order_send import OrderSender
from dotsync.sync.steps.records import is_set, keys_in, records


def fulfilled_date(
    row: Mapping[str, Any], prior: tuple[Any, ...] | None, fulfilled: set[str]
) -> str | None:
    """When the order first reached a fulfilled status (DOTSYNC_FULFILLED_STATUSES).

    ``prior`` is the order's ledger (state, payload hash, sent at, detail), if any.

    Kept in the ledger once reached, so a later return or refund does not move it;
    Dotdigital programs can then start post-purchase journeys on fulfilment only.
    """
    detail = prior[3] if prior is not None else None
    if isinstance(detail, str):
        try:
            known = json.loads(detail).get("fulfilled_date")
        except (ValueError, AttributeError):
            known = None
        if known:
            return str(known)
    if str(row.get("status") or "").strip().lower() in fulfilled:
        return payloads.iso_utc(row.get("updated_at"))
    return None


class Orders:
    """Validates, prepares and sends one run's orders (after the contacts step)."""

    def __init__(self, ctx: RunContext, contacts: Contacts) -> None:
        self.ctx = ctx
        self.contacts = contacts
        self.sender = OrderSender(ctx)
        #: Orders are being built ahead of this run's contacts (a backfill, while its
        #: last contact imports run): prepared without the contact gate and marked
        #: ``_ahead``; :mod:`.orders_ahead` asks the gate for them before any is sent.
        self.ahead = False

    def customer_emails(self, orders: pd.DataFrame) -> dict[str, Any]:
        """``{customer_id: staged e-mail}`` for the orders without a ``customer_email``
        (SPEC §1): one look-up by key, for those orders' customers only."""
        if "customer_email" in orders:
            blank = ~is_set(orders["customer_email"])
        else:
            blank = pd.Series(True, index=orders.index)
        ids = orders.loc[blank, "customer_id"] if "customer_id" in orders else []
        wanted = sorted({i for i in ids if isinstance(i, str) and i.strip()})
        if not wanted:
            return {}
        found = self.ctx.store.read_staged("customers", wanted)
        return dict(zip(found["customer_id"], found["email"], strict=True))

    def validate(self, pending: pd.DataFrame, record: bool = True) -> pd.DataFrame:
        """The valid orders of ``pending`` (rejects and warnings recorded, unless not
        ``record``), with their fingerprint kept in ``_hash``."""
        from dotsync.data_contracts import validate_orders

        ctx = self.ctx
        if pending.empty:
            return pending
        staged = pending.drop(columns=["_hash"], errors="ignore")
        result = validate_orders(staged, now=ctx.options.now(),
                                 strict=ctx.settings.strict_fields,
                                 customer_emails=self.customer_emails(staged))
        if record:
            ctx.record_rejects("orders", pending, result.rejects, "customer_email")
            ctx.record_warnings("orders", pending["order_id"].astype(str), result.warnings)
        valid = result.valid.copy()
        if "_hash" in pending:
            valid["_hash"] = pending.loc[valid.index, "_hash"]
        warned = result.warnings
        left_out = set(warned.loc[warned["field"] == "refunded", "key"].astype(str))
        if left_out:
            valid[payloads.REFUND_LEFT_OUT] = keys_in(valid["order_id"], left_out)
        return valid

    def prepare(self, valid: pd.DataFrame,
                gate: Mapping[str, str | None] | None = None) -> list[OrderRow]:
        """The valid orders that need a call: their contact is in Dotdigital and their
        record differs from the one last sent. The others are settled here: waiting for
        their contact (pending, with the reason) or unchanged. ``gate`` is the
        contact gate of these orders' e-mails when the caller has just asked it."""
        ctx = self.ctx
        if valid.empty:
            return []
        valid = valid[~keys_in(valid["order_id"], ctx.settled["orders"])]
        if valid.empty:
            return []
        if self.ahead:
            gate = {}
        elif gate is None:
            gate = ctx.contact_gate(valid["customer_email"])
        # Timestamps as the ISO text Dotdigital gets, once per column rather than per row.
        valid = valid.assign(**{c: payloads.iso_utc_series(valid[c])
                                for c in ("placed_at", "updated_at") if c in valid})
        waits = [bool(gate.get(e)) for e in valid["customer_email"].tolist()]
        if any(waits):
            ctx.wait_for_contact("orders", records(valid[waits]), gate, "customer_email")
            valid = valid[[not w for w in waits]]
        if valid.empty:
            return []
        return self._changed(valid)

    def _changed(self, valid: pd.DataFrame) -> list[OrderRow]:
        """The orders whose record differs from the one last sent; the others are
        settled unchanged. Built column by column: a backfill prepares millions."""
        ctx = self.ctx
        keys = [str(k) for k in valid["order_id"].tolist()]
        # Through the driver, as stored (only whether sent_at is set matters here): the
        # ledger's frame parsed every timestamp of every column for each chunk.
        prior_of = ctx.ledger.lookup("orders", keys,
                                     ("state", "payload_hash", "sent_at", "detail"))
        fulfilled = set(ctx.settings.fulfilled_statuses)
        dates = [fulfilled_date({"status": status, "updated_at": updated},
                                prior_of.get(key), fulfilled)
                 for key, status, updated in zip(keys, valid["status"].tolist(),
                                                 valid["updated_at"].tolist(), strict=True)]
        valid = valid.assign(fulfilled_date=dates)
        insight = payloads.insight_import_records(valid)
        to_send: list[OrderRow] = []
        unchanged: list[OrderRow] = []
        for key, email, total, currency, source_hash, date, record in zip(
                keys, valid["customer_email"].tolist(), valid["total"].tolist(),
                valid["currency"].tolist(), valid["_hash"].tolist(), dates, insight,
                strict=True):
            before = prior_of.get(key)
            row: OrderRow = {
                "order_id": key, "customer_email": email, "total": total,
                "currency": currency, "_hash": source_hash, "fulfilled_date": date,
                "status": record["json"]["order_status"],
                "placed_at": record["json"]["purchase_date"],
                "_payload": record, "_payload_hash": payloads.payload_hash(record),
                "_first_sync": before is None or before[2] is None}
            if before is not None and before[0] == "synced" and before[1] == row["_payload_hash"]:
                unchanged.append(row)
            else:
                to_send.append(row)
        if self.ahead:
            for row in to_send:
                row["_ahead"] = True
        ctx.report.counts["orders"].unchanged += len(unchanged)
        ctx.settled["orders"].update(str(r["order_id"]) for r in unchanged)
        if not ctx.options.dry_run and unchanged:
            ctx.ledger.record("orders", [
                {"key": r["order_id"], "state": "synced", "source_hash": r["_hash"]}
                for r in unchanged
            ], run_id=ctx.run_id)
        return to_send

    def push(self, valid: pd.DataFrame) -> None:
        """Prepare and send valid orders (a dry run only counts them)."""
        ctx = self.ctx
        to_send = self.prepare(valid)
        if ctx.options.dry_run:
            ctx.report.counts["orders"].sent += len(to_send)
            ctx.report.notes.append(f"dry run: {len(to_send)} orders would be sent")
            ctx.first_synced_orders += [cast(dict[str, Any], r) for r in to_send
                                        if r["_first_sync"]]
            return
        missing = self.send(to_send, bulk=len(to_send) > ctx.options.bulk_threshold)
        self.retry_missing_contacts(missing)

    def send(self, rows: Iterable[Any], bulk: bool) -> list[Any]:
        """Send prepared orders; returns those refused because the contact is missing."""
        return self.sender.send(rows, bulk)

    def retry_missing_contacts(self, missing: Sequence[Mapping[str, Any]]) -> None:
        """Orders Dotdigital refused because their contact does not exist there (deleted
        in Dotdigital, or never created): push those contacts again, then send the orders
        once more, read afresh from the store; what still fails waits for a later run."""
        if not missing:
            return
        ctx = self.ctx
        reason = {r["customer_email"]: f"contact {mask_email(r['customer_email'])} does not "
                  "exist in Dotdigital (ContactEmailDoesNotExist); the order is retried after "
                  "the contact is pushed" for r in missing}
        self.contacts.repush(set(reason))
        staged = ctx.store.read_staged("orders", [str(r["order_id"]) for r in missing])
        staged["_hash"] = source_hashes("orders", staged)
        to_send = self.prepare(self.validate(staged))
        still = self.send(to_send, bulk=len(to_send) > ctx.options.bulk_threshold)
        ctx.wait_for_contact("orders", still, reason, "customer_email")
