"""Repair and the last reconciliation's moment, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from dotsync.reconcile import Finding, last_reconciliation, repair, set_last_reconciliation
from dotsync.store import Ledger
from tests.e2e.helpers import customer, order, stage


def test_the_moment_is_kept_and_replaced(store) -> None:
    assert last_reconciliation(store) is None
    first = datetime(2026, 12, 1, 3, 30, 0, 123000, tzinfo=UTC)
    set_last_reconciliation(store, first)
    assert last_reconciliation(store) == first
    later = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
    set_last_reconciliation(store, later)
    assert last_reconciliation(store) == later


def test_repair_queues_missing_and_different_records_only(store) -> None:
    stage(store, "customers", [customer(1), customer(2, email=" Customer2@Example.com ")])
    stage(store, "orders", [order(1, "customer1@example.com"), order(2, "guest@example.com"),
                            order(3, "GUEST@example.com"), order(4, "customer1@example.com")])
    ledger = Ledger(store)
    sent = datetime(2026, 11, 1, tzinfo=UTC)
    for entity, keys in {"customers": ["C1", "C2"], "orders": ["O1", "O2", "O3", "O4"],
                         "contacts": ["customer1@example.com", "customer2@example.com",
                                      "guest@example.com"]}.items():
        ledger.record(entity, [{"key": k, "state": "synced", "payload_hash": "h",
                                "source_hash": "s", "sent_at": sent} for k in keys])
    queued = repair(store, [
        Finding("orders", "O1", "missing"),
        Finding("orders", "O4", "extra"),  # never repaired: dotsync deletes nothing
        Finding("contacts", "customer2@example.com", "different", ["dataFields.FIRSTNAME"]),
        Finding("contacts", "guest@example.com", "missing"),
    ])
    assert queued == {"orders": 3, "contacts": 2, "customers": 1}
    frame = ledger.frame("orders").set_index("key")
    assert frame.loc["O1", "state"] == "pending" and frame.loc["O1", "payload_hash"] is None
    assert frame.loc["O1", "error_code"] == "reconcile_missing"
    assert set(frame.index[frame["state"] == "pending"]) == {"O1", "O2", "O3"}  # guest's
    assert frame.loc["O4", "state"] == "synced"
    contacts = ledger.frame("contacts").set_index("key")
    assert contacts.loc["guest@example.com", "sent_at"] is None  # created again
    assert contacts.loc["customer2@example.com", "sent_at"] is not None
    assert "FIRSTNAME" in contacts.loc["customer2@example.com", "error_message"]
    assert ledger.states("customers") == {"C1": "synced", "C2": "pending"}
