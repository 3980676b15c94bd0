"""Reconciliation against the emulator: records deleted and altered in Dotdigital behind
dotsync's back are all found, repaired by the next sync, and then found no more."""

from __future__ import annotations

import random

from dotsync.reconcile import ReconcileOptions, reconcile, repair
from dotsync.store import Ledger
from tests.reliability.harness import make_client, sync_once

COLLECTION = "Purchases"


def _reconcile(shop, **options):
    options.setdefault("rng", random.Random(7))
    with make_client(shop.settings) as client:
        return reconcile(shop.store, shop.settings, client, ReconcileOptions(**options))


def _damage(shop) -> tuple[set[str], set[str], set[str]]:
    """Delete 50 insight records, alter 10 others and 10 contacts: 70 in all."""
    state = shop.emulator.state
    deleted = {f"O{i}" for i in range(0, 100, 2)}
    altered = {f"O{i}" for i in range(1, 21, 2)}
    for key in deleted:
        assert state.delete_insight(COLLECTION, key)
    for key in altered:
        assert state.alter_insight(COLLECTION, key, {"order_total": 1.0, "order_status": "x"})
    contacts = {f"customer{i}@example.com" for i in range(40, 50)}
    for email in contacts:
        assert state.alter_contact(email, {"FIRSTNAME": "Changed"})
    return deleted, altered, contacts


def _check_restored(shop, deleted, altered, contacts) -> None:
    records = {r["key"]: r["json"] for r in shop.emulator.state.insight_records(COLLECTION)}
    assert deleted <= set(records)
    assert all(records[k]["order_total"] == 24.0 for k in altered)
    for email in contacts:
        held = shop.emulator.state.contact(email)
        assert held["dataFields"]["FIRSTNAME"] != "Changed"


def test_incremental_reconcile_finds_repairs_and_then_finds_nothing(shop) -> None:
    report = sync_once(shop.store, shop.settings)
    assert report.counts["orders"].sent == 130
    # pages of 10: reading all back (13 + 7 pages) costs more than a sample of 5 each
    first = _reconcile(shop, sample=5, max_calls=100, page_size=10)
    assert first.complete and first.total == 0, first.as_dict()
    deleted, altered, contacts = _damage(shop)

    found = _reconcile(shop, sample=5, max_calls=100, page_size=10)
    assert found.complete, found.incomplete_reason
    assert {f.how for f in found.findings if f.entity == "contacts"} == {"modified"}
    assert set(found.found("orders", "missing")) == deleted
    assert set(found.found("orders", "different")) == altered
    assert set(found.found("contacts", "different")) == contacts
    assert found.found("orders", "extra") == [] and found.found("contacts", "missing") == []
    assert found.total == 70
    assert {f.fields[0] for f in found.findings if f.entity == "contacts"} == {
        "dataFields.FIRSTNAME"}
    assert all(f.fields == ["order_status", "order_total"] for f in found.findings
               if f.kind == "different" and f.entity == "orders")
    assert 0 < found.api_calls <= 100
    assert found.api_calls == sum(found.calls.values())

    queued = repair(shop.store, found.findings)
    assert queued["orders"] == 60 and queued["contacts"] == 10
    states = Ledger(shop.store).states("orders")
    assert all(states[k] == "pending" for k in deleted | altered)

    again = sync_once(shop.store, shop.settings)
    assert again.counts["orders"].sent == 60
    assert again.counts["contacts"].sent == 10
    _check_restored(shop, deleted, altered, contacts)

    last = _reconcile(shop, sample=5, max_calls=100, page_size=10)
    assert last.complete and last.total == 0, last.as_dict()


def test_full_reconcile_reads_everything_back(shop) -> None:
    sync_once(shop.store, shop.settings)
    deleted, altered, contacts = _damage(shop)
    shop.emulator.state.delete_contact("email", "guest3@example.com")
    found = _reconcile(shop, full=True, max_calls=100, page_size=25)
    assert found.complete
    assert set(found.found("orders", "missing")) == deleted | {"O1003"}
    assert set(found.found("orders", "different")) == altered
    assert set(found.found("contacts", "different")) == contacts
    assert found.found("contacts", "missing") == ["guest3@example.com"]
    # 130 records in pages of 25 (at most 6 calls), 71 contacts (3), one collection listing
    assert found.api_calls <= 11
    queued = repair(shop.store, found.findings)
    assert queued["contacts"] == 11
    sync_once(shop.store, shop.settings)
    _check_restored(shop, deleted | {"O1003"}, altered, contacts)
    assert shop.emulator.state.contact("guest3@example.com") is not None
    assert _reconcile(shop, full=True, max_calls=100).total == 0


def test_budget_stops_the_run_and_keeps_the_last_moment(shop) -> None:
    from dotsync.reconcile import last_reconciliation

    sync_once(shop.store, shop.settings)
    found = _reconcile(shop, full=True, max_calls=3, page_size=10)
    assert not found.complete
    assert "budget of 3" in found.incomplete_reason
    assert found.api_calls == 3
    assert last_reconciliation(shop.store) is None


def test_sample_finds_a_contact_deleted_in_dotdigital(shop) -> None:
    sync_once(shop.store, shop.settings)
    _reconcile(shop, sample=0)
    shop.emulator.state.delete_contact("email", "customer59@example.com")
    # 70 contacts in pages of 1 cost 70 calls: a sample of 69 is cheaper (seeded: it
    # holds the deleted one)
    found = _reconcile(shop, sample=69, max_calls=400, page_size=1)
    assert found.found("contacts", "missing") == ["customer59@example.com"]
    assert [f.how for f in found.findings if f.entity == "contacts"] == ["sample"]
    assert set(found.found("orders", "missing")) == {"O59", "O119"}


def test_a_small_store_is_read_whole_when_that_is_cheaper_than_the_sample(shop) -> None:
    sync_once(shop.store, shop.settings)
    _reconcile(shop, sample=0)
    shop.emulator.state.delete_contact("email", "customer58@example.com")
    found = _reconcile(shop, sample=100, max_calls=400)  # one page each, not 100 calls
    assert found.found("contacts", "missing") == ["customer58@example.com"]
    assert found.api_calls <= 4
    # its orders went with it: the collection count disagrees, so they are named too
    assert set(found.found("orders", "missing")) == {"O58", "O118"}
