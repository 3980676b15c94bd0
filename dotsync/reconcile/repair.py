"""Queue what a reconciliation found missing or different for the next sync.

Through the ledger, as ``dotsync replay`` does, with one difference: these records are
``synced`` and their payload is unchanged, so the sync would find nothing to send. Each
is set ``pending`` with its payload fingerprint cleared (and, for a contact Dotdigital
no longer has, its ``sent_at``, so it is created again as a new contact would be). A
contact's customer rows are queued too, since the sync builds contacts from them; a
guest's contact (no customer row) comes back with its orders. Extra records are left
alone: dotsync never deletes what it did not send. Exactly-once sends are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from dotsync.reconcile.result import Finding
from dotsync.store import Ledger, Store, schema
from dotsync.store.db import chunks

REPAIRABLE = ("missing", "different")


def _row(key: str, kind: str, fields: Iterable[str] = ()) -> dict[str, Any]:
    what = ("Dotdigital no longer has it" if kind == "missing" else
            "Dotdigital holds other values in " + ", ".join(fields))
    return {"key": key, "state": "pending", "payload_hash": None, "source_hash": None,
            "error_code": f"reconcile_{kind}",
            "error_message": f"found by reconciliation: {what}; queued for the next sync"}


def repair(store: Store, findings: Iterable[Finding]) -> dict[str, int]:
    """Queue the missing and different records; ``{ledger entity: rows queued}``."""
    ledger = Ledger(store)
    todo = [f for f in findings if f.kind in REPAIRABLE]
    queued: dict[str, int] = {}
    orders = [_row(f.key, f.kind, f.fields) for f in todo if f.entity == "orders"]
    contacts = [f for f in todo if f.entity == "contacts"]
    contact_rows = []
    for f in contacts:
        row = _row(f.key, f.kind, f.fields)
        if f.kind == "missing":
            row["sent_at"] = None
        contact_rows.append(row)
    emails = sorted({f.key for f in contacts if not f.key.startswith("mobile:")})
    holders = store.read_staged_by_email(emails) if emails else None
    customer_rows = []
    with_customer: set[str] = set()
    if holders is not None and not holders.empty:
        for cid, email in zip(holders["customer_id"], holders["email"], strict=True):
            norm = str(email).strip().lower()
            with_customer.add(norm)
            kind = next(f.kind for f in contacts if f.key == norm)
            customer_rows.append(_row(str(cid), kind))
    guests = [e for e in emails if e not in with_customer]
    guest_orders = [_row(k, "missing") for k in _orders_of(store, guests)]
    for entity, rows in (("contacts", contact_rows), ("customers", customer_rows),
                         ("orders", orders + guest_orders)):
        if rows:
            unique = list({r["key"]: r for r in rows}.values())
            queued[entity] = ledger.record(entity, unique)
    return queued


def _orders_of(store: Store, emails: list[str]) -> list[str]:
    """Order ids whose trimmed, lower-cased e-mail is one of ``emails``."""
    if not emails:
        return []
    t = schema.STAGING_TABLES["orders"]
    norm = sa.func.lower(sa.func.trim(t.c.customer_email))
    out: list[str] = []
    with store.engine.connect() as conn:
        for part in chunks(emails, 900):
            out += [str(k) for k in conn.execute(sa.select(t.c.order_id).where(norm.in_(part)))
                    .scalars()]
    return out
