"""What Dotdigital should hold for a record: the payload dotsync would send it now.

Built with the sync's own validation and payload builders (:mod:`dotsync.sync.payloads`)
through a dry-run :class:`~dotsync.sync.engine.SyncEngine`, which writes nothing. A
record whose staged source changed since it was sent is left out (``changed``): the
next sync sends it anyway, so a difference there is not a discrepancy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dotsync.store.status import source_hashes
from dotsync.sync import payloads
from dotsync.sync.engine import SyncEngine
from dotsync.sync.steps.orders import fulfilled_date as _fulfilled_date


@dataclass
class Expected:
    """Payloads by ledger key, and the keys left out because their source changed."""

    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)


def _staged_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not c.startswith("_")]


def expected_orders(engine: SyncEngine, keys: Iterable[str]) -> Expected:
    """The insight import record (``contactIdentity``, ``key``, ``json``) of each order."""
    out = Expected()
    wanted = sorted(set(keys))
    if not wanted:
        return out
    staged = engine.store.read_staged("orders", wanted)
    if staged.empty:
        return out
    hashes = source_hashes("orders", staged)
    prior = engine.ledger.frame("orders", wanted)
    prior_of = {k: (s, p, t, d) for k, s, p, t, d in zip(
        prior["key"], prior["state"], prior["payload_hash"], prior["sent_at"], prior["detail"],
        strict=True)}
    sent_hash = {k: h for k, h in zip(prior["key"], prior["source_hash"], strict=True)}
    ids = staged["order_id"].astype(str)
    same = [sent_hash.get(k) == h for k, h in zip(ids, hashes, strict=True)]
    out.changed.update(k for k, s in zip(ids, same, strict=True) if not s)
    staged = staged[same].assign(_hash=hashes[same])
    valid = engine.validate_orders(staged, record=False)
    if valid.empty:
        return out
    valid = valid.assign(**{c: payloads.iso_utc_series(valid[c])
                            for c in ("placed_at", "updated_at") if c in valid})
    fulfilled = set(engine.settings.fulfilled_statuses)
    dates = [_fulfilled_date({"status": s, "updated_at": u}, prior_of.get(str(k)), fulfilled)
             for k, s, u in zip(valid["order_id"], valid["status"], valid["updated_at"],
                                strict=True)]
    for record in payloads.insight_import_records(valid.assign(fulfilled_date=dates)):
        out.payloads[record["key"]] = record
    return out


def expected_contacts(engine: SyncEngine, keys: Iterable[str]) -> Expected:
    """The contact payload of each contact key (a normalised e-mail).

    A key with no customer row is a guest's or a certificate recipient's e-mail-only
    contact. Mobile-only contacts (``mobile:…`` keys) are not built here.
    """
    out = Expected()
    emails = sorted({k for k in keys if k and not k.startswith("mobile:")})
    if not emails:
        return out
    holders = engine.customers_with_emails(emails)
    if not holders.empty:
        hashes = source_hashes("customers", holders[_staged_columns(holders)])
        ids = holders["customer_id"].astype(str)
        sent = engine.ledger.lookup("customers", ids.tolist(), ("source_hash",))
        stale = {e for e, k, h in zip(holders["_email_norm"], ids, hashes, strict=True)
                 if sent.get(k, (None,))[0] != h}
        out.changed.update(stale)
        fresh = holders[~holders["_email_norm"].isin(stale)]
        if not fresh.empty:
            fresh = fresh.assign(_hash=hashes[fresh.index])
            for item in engine.contact_items(fresh, set(fresh["customer_id"].astype(str))):
                out.payloads[item["key"]] = item["payload"]
    with_customer = set(holders["_email_norm"].dropna()) if not holders.empty else set()
    for email in emails:
        if email not in with_customer and email not in out.payloads:
            out.payloads[email] = payloads.contact_payload({"email": email})
    return out
