"""A new Dotdigital account: no insight collection yet, only the default data fields.

Issue 12: on an account without the collection, a small first sync (single-record calls,
below the bulk threshold) got 404 from the insight PUT, read it as a missing contact,
pushed the contact again and left the orders pending run after run. The bundled emulator
starts as a new account does, so these tests start without the collection, under the
default name and under another one.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import customer, order, stage, states, write_calls

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("collection", ["Purchases", "Orders2"])
def test_the_first_small_sync_creates_the_collection_and_sends_every_order(
        env, monkeypatch, collection):
    monkeypatch.setenv("DOTSYNC_INSIGHT_COLLECTION", collection)
    account = env.emulator.state
    assert account.insight() == {}  # a new account: no collection at all
    stage(env.store, "customers", [customer(1), customer(2)])
    stage(env.store, "orders", [order(1, "customer1@example.com"),
                                order(2, "customer2@example.com"),
                                order(3, "guest@example.org")])
    state = env.sync()
    assert state.is_completed(), state.message
    assert states(env.store, "orders") == {"O1": "synced", "O2": "synced", "O3": "synced"}
    records = account.insight_records(collection)
    assert sorted(r["key"] for r in records) == ["O1", "O2", "O3"]
    assert account.insight()[collection]["scope"] == "contact"
    assert account.insight()[collection]["type"] == "orders"
    creates = [c for c in account.calls() if c["method"] == "POST"
               and c["path"] == f"/insightData/v3/collections/{collection}"]
    assert [c["status"] for c in creates] == [201]
    # the contacts were never pushed twice for a "missing contact" that was a collection
    # (the guest is created with a create-only POST: README, "Consent")
    patches = [c for c in account.calls() if c["method"] in ("PATCH", "POST")
               and c["path"].startswith("/contacts/v3")]
    assert len(patches) == 3
    report = state.result()
    assert any(f"created the insight collection '{collection}'" in n
               for n in report.get("notes", [])), report.get("notes")

    before = len(account.calls())
    stage(env.store, "orders", [order(4, "customer1@example.com")])
    assert env.sync().is_completed()
    later = account.calls()[before:]
    assert [c["path"] for c in write_calls(later)] == [
        f"/insightData/v3/contacts/email/customer1@example.com/{collection}/O4"]


def test_a_bulk_first_sync_needs_no_collection_call(env):
    """An insight import creates its collection itself (DOTDIGITAL.md)."""
    stage(env.store, "customers", [customer(i) for i in range(1, 4)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in range(1, 4)])
    state = env.sync(bulk_threshold=0)
    assert state.is_completed(), state.message
    assert len(env.emulator.state.insight_records("Purchases")) == 3
    assert not [c for c in env.emulator.state.calls()
                if c["path"].startswith("/insightData/v3/collections/")]
