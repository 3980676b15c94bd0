"""preflight's catalog_collections check: each store with staged products names a valid
catalogue collection of its own, and none exists in the account with contact scope."""

from __future__ import annotations

from dotsync.store import Store
from tests.e2e.helpers import stage


def _products(store: Store, *stores: str) -> None:
    stage(store, "products", [{"sku": f"S{i}", "store": s, "name": "Mug", "price": "1",
                               "currency": "GBP", "updated_at": "2026-01-01T00:00:00Z"}
                              for i, s in enumerate(stores)])


def test_no_products_pass(emulator, preflight):
    check = preflight(emulator()).check("catalog_collections")
    assert check.ok and "no products are staged" in check.detail


def test_valid_names_pass_and_say_the_first_run_creates_them(emulator, preflight, store):
    _products(store, "uk", "de")
    check = preflight(emulator()).check("catalog_collections")
    assert check.ok, check.detail
    assert "'catalog_de', 'catalog_uk'" in check.detail and "2 created" in check.detail


def test_two_stores_sharing_a_collection_fail_naming_both(emulator, preflight, store):
    _products(store, "eu.1", "eu 1")
    result = preflight(emulator())
    check = result.check("catalog_collections")
    assert check.status == "fail" and not result.ok
    assert "'eu 1'" in check.detail and "'eu.1'" in check.detail
    assert "DOTSYNC_CATALOG_COLLECTION" in check.fix


def test_one_override_for_several_stores_fails(emulator, preflight, store):
    _products(store, "uk", "de")
    check = preflight(emulator(), catalog_collection="Catalogue").check("catalog_collections")
    assert check.status == "fail" and "several stores" in check.detail


def test_a_contact_scoped_collection_of_that_name_fails(emulator, preflight, store):
    _products(store, "uk")
    server = emulator()
    server.state.create_collection("catalog_uk", "contact", "custom", limit=1000)
    check = preflight(server).check("catalog_collections")
    assert check.status == "fail" and "contact scope" in check.detail
