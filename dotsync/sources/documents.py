"""Adobe Commerce documents that change rows staged from other payloads.

A credit memo, a shipment or a gift card account is not a staging row of its own:
it changes an order (``refunded``, ``status``) or a certificate (``expires_at``)
loaded earlier. Each document is kept once in the connectors' bookkeeping
(:mod:`dotsync.sources.state`), so loading a file twice changes nothing, and a
document whose order or card is not staged is reported, never attached elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.sources import state
from dotsync.store import schema
from dotsync.store.db import Store, UpsertCounts

#: ``problem(position, platform id, reason, field)``.
Problem = Callable[..., None]
#: ``(mapped document, position, platform id)``.
Document = tuple[dict[str, Any], int, str | None]
#: Order statuses a shipment does not change: the shop already said the order is
#: done, stopped or (``shipped``) already shipped.
FINAL_STATUSES = frozenset({"complete", "closed", "canceled", "cancelled", "holded",
                            "shipped"})


def write(store: Store, platform: str, entity: str, documents: list[Document],
          problem: Problem) -> UpsertCounts:
    """Apply one batch of ``entity`` documents; counts of the staged rows changed."""
    if entity == "creditmemos":
        return write_refunds(store, platform, documents, problem)
    if entity == "shipments":
        return write_shipments(store, platform, documents, problem)
    return write_giftcardaccounts(store, documents, problem)


def _staged_orders(store: Store, platform: str, order_refs: Iterable[str],
                   documents: list[Document], what: str,
                   problem: Problem) -> tuple[dict[str, str], pd.DataFrame]:
    """The staged orders the documents name (by ``entity_id``); a document whose
    order is not staged is reported."""
    order_keys = state.lookup_keys(store.engine, platform, "orders", order_refs)
    for doc, line, ident in documents:
        if doc["order_ref"] not in order_keys:
            problem(line, ident, f"its order (entity_id {doc['order_ref']}) is not staged: "
                    f"load the orders first, then the {what} again", "order_id")
    return order_keys, store.read_staged("orders", order_keys.values())


def write_refunds(store: Store, platform: str, documents: list[Document],
                  problem: Problem) -> UpsertCounts:
    """Credit memos: keep each, then set every touched order's ``refunded`` to the sum
    of its credit memos."""
    sums = state.record_refunds(store.engine, platform, [
        (d["refund_id"], d["order_ref"], d["amount"]) for d, _, _ in documents])
    order_keys, staged = _staged_orders(store, platform, sums, documents,
                                        "credit memos", problem)
    if staged.empty:
        return UpsertCounts()
    by_key = {v: k for k, v in order_keys.items()}
    staged["refunded"] = [format(sums[by_key[k]], "f") for k in staged["order_id"]]
    return store.upsert_staged("orders", staged)


def ordered_quantity(lines: Any) -> Decimal | None:
    """The quantity of an order's staged ``lines`` (its top-level items)."""
    import json

    if not isinstance(lines, str) or not lines:
        return None
    try:
        parsed = json.loads(lines, parse_float=Decimal)
    except ValueError:
        return None
    total = Decimal(0)
    for line in parsed if isinstance(parsed, list) else []:
        qty = line.get("quantity") if isinstance(line, dict) else None
        if isinstance(qty, int | Decimal) and not isinstance(qty, bool):
            total += Decimal(qty)
    return total


def shipped_status(status: Any, shipped: Decimal, ordered: Decimal | None) -> str | None:
    """The status an order takes from its shipments, or None to keep its own."""
    if str(status or "").strip().lower() in FINAL_STATUSES or shipped <= 0:
        return None
    return "shipped" if ordered is not None and shipped >= ordered else "partially_shipped"


def write_shipments(store: Store, platform: str, documents: list[Document],
                    problem: Problem) -> UpsertCounts:
    """Shipments: keep each, then move every touched open order to ``shipped`` (all
    its quantity left) or ``partially_shipped``, its ``updated_at`` to the latest
    shipment when that is later (the time the insight record's ``fulfilled_date``
    takes)."""
    found = state.record_shipments(store.engine, platform, [
        (d["shipment_id"], d["order_ref"], d["qty"], d["shipped_at"])
        for d, _, _ in documents])
    order_keys, staged = _staged_orders(store, platform, found, documents, "shipments",
                                        problem)
    if staged.empty:
        return UpsertCounts()
    by_key = {v: k for k, v in order_keys.items()}
    statuses, times = [], []
    for key, status, lines, updated in zip(staged["order_id"], staged["status"],
                                           staged["lines"], staged["updated_at"],
                                           strict=True):
        shipped, at = found[by_key[key]]
        new = shipped_status(status, shipped, ordered_quantity(lines))
        statuses.append(new or status)
        times.append(at if new and _later(at, updated) else updated)
    staged["status"] = statuses
    staged["updated_at"] = times
    return store.upsert_staged("orders", staged)


def _later(a: str, b: Any) -> bool:
    """Whether timestamp text ``a`` is a later instant than ``b``."""
    try:
        return bool(pd.Timestamp(a) > pd.Timestamp(b))
    except (ValueError, TypeError):
        return b is None


def write_giftcardaccounts(store: Store, documents: list[Document],
                           problem: Problem) -> UpsertCounts:
    """Gift card accounts: the certificate staged with each code takes the account's
    expiry; an account with no staged certificate, or a disabled one, is reported."""
    codes = {d["code"] for d, _, _ in documents}
    table = schema.certificates
    by_code: dict[str, str] = {}
    with store.engine.connect() as conn:
        wanted = sorted(codes)
        for start in range(0, len(wanted), 900):
            for key, code in conn.execute(sa.select(table.c.certificate_id, table.c.code)
                                          .where(table.c.code.in_(wanted[start:start + 900]))):
                by_code[code] = key
    expiry: dict[str, str | None] = {}
    for doc, line, ident in documents:
        key = by_code.get(doc["code"])
        if key is None:
            problem(line, ident, "no certificate is staged with this code: a gift card "
                    "account names no recipient; load the orders that bought it as "
                    "certificates first", "code")
        elif not doc["enabled"]:
            problem(line, ident, f"disabled in Adobe Commerce: certificate {key} is left "
                    "as staged (withdraw it in Dotdigital if it was sent)", "status")
        elif doc["expires_at"] is not None:
            expiry[key] = doc["expires_at"]
    staged = store.read_staged("certificates", expiry)
    if staged.empty:
        return UpsertCounts()
    staged["expires_at"] = [expiry[k] for k in staged["certificate_id"]]
    return store.upsert_staged("certificates", staged)
