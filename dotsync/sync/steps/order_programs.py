"""Programs started by order events (``DOTSYNC_PROGRAMS``): enrolled once per
(event, order), through the same exactly-once enrolment as abandoned carts.

The orders this run sent (new, or changed: a new status, a refund) raise their events
(:mod:`dotsync.sync.order_programs_plan`: ``first_order``, ``order_status:<status>``,
``refunded``); each configured event enrols the order's contact, keyed
``event|order_id`` in the ledger (entity ``program_enrolments``), so a re-sent order
never enrols again for an event it already raised. Orders sent before a program was
configured are never enrolled after the fact. The consent rule is the cart's: a
contact without marketing consent (staged, or in Dotdigital) is never enrolled; one
not in Dotdigital yet waits (``pending``), and is tried again by later runs.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from dotsync.store import schema
from dotsync.store.status import source_hashes
from dotsync.sync import order_programs_plan as plan
from dotsync.sync.carts_plan import parse_time
from dotsync.sync.steps import cart_facts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.enrolment_reads import read_back, unfinished
from dotsync.sync.steps.enrolments import Contact, Enrol, enrol_once
from dotsync.sync.steps.orders import Orders
from dotsync.sync.steps.records import records

ENTITY = "program_enrolments"
#: Orders read, planned and enrolled at a time.
CHUNK = 2_000


class OrderPrograms:
    """The order-event enrolments of one run (after the orders step)."""

    def __init__(self, ctx: RunContext, orders: Orders) -> None:
        self.ctx = ctx
        self.orders = orders
        self.contacts: dict[str, Contact | None] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.ctx.settings.programs) and not self.ctx.options.dry_run

    def enrol(self) -> None:
        """Read back earlier enrolments, then enrol the events of the orders this run
        sent and of those still waiting for their contact."""
        if not self.enabled:
            return
        ctx = self.ctx
        read_back(ctx, ENTITY, unfinished(ctx, ENTITY))
        ids = sorted(set(ctx.synced_order_ids) | set(self._waiting()))
        for start in range(0, len(ids), CHUNK):
            self._enrol(ids[start:start + CHUNK])

    def _waiting(self) -> list[str]:
        t = schema.ledger
        with self.ctx.store.engine.connect() as conn:
            keys = conn.execute(sa.select(t.c.key).where(
                t.c.entity == ENTITY, t.c.state.in_(["pending", "failed"]))).scalars().all()
        return [str(k).split("|", 1)[1] for k in keys if "|" in str(k)]

    def _enrol(self, order_ids: list[str]) -> None:
        ctx = self.ctx
        staged = ctx.store.read_staged("orders", order_ids)
        if staged.empty:
            return
        staged["_hash"] = source_hashes("orders", staged)
        valid = self.orders.validate(staged, record=False)
        if valid.empty:
            return
        events = [_event(r) for r in records(valid)]
        emails = sorted({e.email for e in events})
        facts = cart_facts.gather(ctx, emails)
        firsts = plan.first_orders(self._orders_of(emails))
        keys = [plan.enrolment_key(ev, e.order_id) for e in events
                for ev in plan.events_of(e, firsts)]
        done = {k for k, s in ctx.ledger.states(ENTITY, keys).items()
                if s in ("synced", "in_doubt", "rejected")}
        gate = ctx.contact_gate(emails)
        decisions = plan.plan_event_enrolments(
            events, programs=dict(ctx.settings.programs), first_order_ids=firsts,
            enrolled=done, marketable=facts.marketable,
            contact_ids={e: 0 for e in emails if not gate.get(e)})
        waits = [d for d in decisions if d.reason == plan.NO_CONTACT_ID]
        if waits:
            ctx.ledger.record(ENTITY, [
                {"key": d.key, "state": "pending", "error_code": "waiting_for_contact",
                 "error_message": gate.get(d.email) or "waiting for the contact"}
                for d in waits], run_id=ctx.run_id, protect_sent=True)
        ctx.count_skips(ENTITY, [(d.key, d.reason) for d in decisions
                                 if d.reason == plan.NO_CONSENT])
        owed = [Enrol(d.key, d.email, d.program_id) for d in decisions if d.enrol]
        if owed:
            enrol_once(ctx, ENTITY, owed, self.contacts)

    def _orders_of(self, emails: Iterable[str]) -> list[plan.OrderEvent]:
        """Every staged order of these contacts, for their first order."""
        ctx = self.ctx
        wanted = sorted(set(emails))
        customers = ctx.customers_with_emails(wanted)
        email_of_id = dict(zip(customers["customer_id"].astype(str),
                               customers["_email_norm"], strict=True))
        out = []
        for oid, email, cid, placed in cart_facts.rows_of(
                ctx, schema.orders, ("order_id", "customer_email", "customer_id", "placed_at"),
                wanted, email_of_id):
            who = cart_facts.email_of(email, cid, email_of_id)
            try:
                when = parse_time(placed)
            except ValueError:
                continue
            if who is not None and when is not None:
                out.append(plan.OrderEvent(str(oid), who, "", when))
        return out


def _event(row: dict[str, object]) -> plan.OrderEvent:
    placed = pd.Timestamp(str(row["placed_at"])).to_pydatetime()
    refunded = row.get("refunded")
    return plan.OrderEvent(
        order_id=str(row["order_id"]), email=str(row["customer_email"]),
        status=str(row.get("status") or ""), placed_at=placed,
        refunded=float(refunded) if isinstance(refunded, int | float)
        and refunded == refunded else 0.0)
