"""What the carts step must know about a chunk's contacts, read from the store.

Three facts decide a cart (:mod:`dotsync.sync.carts_plan`): may its contact receive
marketing (a staged customer of that e-mail says ``subscribed``, none says
``unsubscribed``, and Dotdigital has not suppressed the address since), has the
contact placed an order since the cart was created (the cart converted even when the
shop does not link them), and when did the contact's carts last enrol it (the
re-enrolment window spans carts). Each is one query per chunk, never one per cart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dotsync.store import schema
from dotsync.store.db import chunks
from dotsync.sync import carts_plan
from dotsync.sync.carts_plan import parse_time
from dotsync.sync.consent import suppressed_at
from dotsync.sync.steps.context import RunContext

#: Values per statement of a look-up that scans (under SQLite's 32,766 variables).
SCAN_VALUES = 10_000


@dataclass
class CartFacts:
    """Per contact e-mail: marketable, orders placed, last cart enrolment; per cart id:
    whether its cart already enrolled its contact (or may have: in doubt)."""

    marketable: dict[str, bool] = field(default_factory=dict)
    orders_placed: dict[str, list[datetime]] = field(default_factory=dict)
    enrolled_carts: set[str] = field(default_factory=set)
    last_enrolment: dict[str, datetime] = field(default_factory=dict)


#: The ledger entity of each contact's last cart enrolment (key: the contact's e-mail,
#: ``sent_at``: when): the re-enrolment window spans a contact's carts, and this finds
#: it by key instead of searching the contact's carts.
CONTACT_WINDOWS = "cart_contacts"


def gather(ctx: RunContext, emails: Iterable[str], cart_ids: Iterable[str] = ()
           ) -> CartFacts:
    """The facts of the contacts behind ``emails`` (normalised) and of ``cart_ids``."""
    wanted = sorted({e for e in emails if e})
    facts = CartFacts()
    if not wanted:
        return facts
    customers = ctx.customers_with_emails(wanted)
    ids_of: dict[str, list[str]] = {}
    consent: dict[str, set[str]] = {}
    for cid, email, status in zip(customers["customer_id"].tolist(),
                                  customers["_email_norm"].tolist(),
                                  customers["email_consent"].tolist(), strict=True):
        ids_of.setdefault(email, []).append(str(cid))
        consent.setdefault(email, set()).add(str(status or "").strip().lower())
    suppressed = suppressed_at(ctx.store, wanted)
    facts.marketable = {e: "subscribed" in consent.get(e, set())
                        and "unsubscribed" not in consent.get(e, set())
                        and e not in suppressed for e in wanted}
    email_of_id = {cid: e for e, ids in ids_of.items() for cid in ids}
    facts.orders_placed = orders_placed(ctx, wanted, email_of_id)
    facts.enrolled_carts = {k for k, s in ctx.ledger.states(carts_plan.LEDGER_ENTITY,
                                                             list(cart_ids)).items()
                            if s in carts_plan.ENROLLED_STATES}
    for email, (sent_at,) in ctx.ledger.lookup(CONTACT_WINDOWS, wanted,
                                               ("sent_at",)).items():
        when = parse_time(sent_at)
        if when is not None:
            facts.last_enrolment[email] = when
    return facts


def mark_windows(ctx: RunContext, emails: Iterable[str], now: datetime) -> None:
    """Each contact's re-enrolment window starts now: written just before its batch is
    claimed, so no crash can let a second cart of the contact in within the window
    (at worst a contact whose claim never happened waits the window once)."""
    rows = [{"key": e, "state": "synced", "sent_at": now} for e in dict.fromkeys(emails)]
    if rows:
        ctx.ledger.record(CONTACT_WINDOWS, rows, run_id=ctx.run_id)


def _norm(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def rows_of(ctx: RunContext, table: sa.Table, columns: Sequence[str], emails: Sequence[str],
          email_of_id: Mapping[str, str]) -> list[tuple[Any, ...]]:
    """Rows of ``table`` whose ``customer_email`` is one of ``emails`` (as stored, or
    trimmed and lower-cased) or whose ``customer_id`` is one of ``email_of_id``."""
    cols = [table.c[c] for c in columns]
    out: list[tuple[Any, ...]] = []
    ids = sorted(email_of_id)
    # The columns are not indexed by their normalised form: each statement is one scan
    # of the table, so each carries as many values as a statement may (not 900).
    with ctx.store.engine.connect() as conn:
        for start in range(0, max(len(emails), len(ids)), SCAN_VALUES):
            some_emails = list(emails[start:start + SCAN_VALUES])
            some_ids = ids[start:start + SCAN_VALUES]
            out += [tuple(r) for r in conn.execute(sa.select(*cols).where(
                sa.func.lower(sa.func.trim(table.c.customer_email)).in_(some_emails)
                | table.c.customer_id.in_(some_ids)))]
    return out


def email_of(row_email: Any, customer_id: Any, email_of_id: Mapping[str, str]) -> str | None:
    return _norm(row_email) or email_of_id.get(str(customer_id))


def orders_placed(ctx: RunContext, emails: Sequence[str],
                  email_of_id: Mapping[str, str]) -> dict[str, list[datetime]]:
    """When each contact's staged orders were placed."""
    out: dict[str, list[datetime]] = {}
    rows = rows_of(ctx, schema.orders, ("order_id", "customer_email", "customer_id",
                                      "placed_at"), emails, email_of_id)
    for _oid, email, cid, placed in {r[0]: r for r in rows}.values():
        who = email_of(email, cid, email_of_id)
        try:
            when = parse_time(placed)
        except ValueError:
            continue  # the orders step rejects it; it converts no cart
        if who is not None and when is not None:
            out.setdefault(who, []).append(when)
    return out


def carts_of(ctx: RunContext, emails: Sequence[str],
             email_of_id: Mapping[str, str]) -> dict[str, str]:
    """``{cart id: contact e-mail}`` of every staged cart of these contacts."""
    rows = rows_of(ctx, schema.carts, ("cart_id", "customer_email", "customer_id"), emails,
                 email_of_id)
    out: dict[str, str] = {}
    for cart_id, email, cid in rows:
        who = email_of(email, cid, email_of_id)
        if who is not None:
            out[str(cart_id)] = who
    return out


def due(ctx: RunContext, now: datetime) -> list[str]:
    """Carts waiting to enrol (``pending``, or ``failed`` before the call went out)
    whose time has come: idle long enough, or the contact's re-enrolment window over."""
    t = schema.ledger
    out: list[str] = []
    with ctx.store.engine.connect() as conn:
        for key, detail in conn.execute(sa.select(t.c.key, t.c.detail).where(
                t.c.entity == carts_plan.LEDGER_ENTITY, t.c.state.in_(["pending", "failed"]))):
            when = due_at(detail)
            if when is None or when <= now:
                out.append(str(key))
    return out


def due_at(detail: Any) -> datetime | None:
    try:
        return parse_time(json.loads(detail or "{}").get("due"))
    except (ValueError, AttributeError):
        return None


def drop_waiting(ctx: RunContext, keys: Sequence[str]) -> None:
    """Carts that will never enrol (emptied, converted, no consent) stop waiting. Only
    rows still ``pending``/``failed`` go: a claim (``in_doubt``) or an enrolment made
    (``synced``) is never removed, whichever run got there first."""
    if not keys:
        return
    t = schema.ledger
    with ctx.store.engine.begin() as conn:
        for part in chunks(list(keys), 900):
            conn.execute(t.delete().where(
                t.c.entity == carts_plan.LEDGER_ENTITY, t.c.key.in_(part),
                t.c.state.in_(["pending", "failed"])))
