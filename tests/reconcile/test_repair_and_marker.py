"""Repair and the last reconciliation's moment, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from dotsync.reconcile import Finding, last_reconciliation, repair, set_last_reconciliation
from dotsync.reconcile.compare import record_differences, same_value
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


@given(st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                    | st.floats(allow_nan=False, allow_infinity=False, width=32)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8))
def test_a_value_equals_itself_and_its_json_round_trip(value) -> None:
    held = json.loads(json.dumps(value))
    assert same_value(value, held)
    record = {"json": {"field": value}}
    assert record_differences(record, {"json": {"field": held}}) == []
    assert record_differences(record, {"json": {"field": held, "other": 1}}) == ["other"]
    assert record_differences(record, {"json": {}}) == ([] if value is None else ["field"])


def test_contact_differences_look_at_owned_fields_only() -> None:
    from dotsync.reconcile.compare import contact_differences

    sent = {"identifiers": {"email": "jo@example.com", "mobileNumber": "447700900123"},
            "dataFields": {"FIRSTNAME": "Jo", "Points": 12},
            "channelProperties": {"email": {"status": "subscribed"}}}
    held = {"identifiers": {"email": "Jo@Example.com", "mobileNumber": "+447700900123"},
            "dataFields": {"FIRSTNAME": "Jo", "POINTS": 12.0, "GENDER": "x"},
            "channelProperties": {"email": {"status": "unsubscribed"}}}  # Dotdigital's
    assert contact_differences(sent, held) == []
    held["identifiers"].pop("mobileNumber")
    held["dataFields"] = [{"key": "FIRSTNAME", "value": "Joe"}, {"key": "POINTS", "value": 12}]
    assert contact_differences(sent, held) == ["identifiers.mobileNumber",
                                               "dataFields.FIRSTNAME"]
