"""Checks against the account's structure: data fields, the list, the insight collection,
and the send history (ledger against the collection). Every emulator starts as a new
account: default data fields only, no insight collection."""

from __future__ import annotations

import json

import pytest

from dotsync.dotdigital import DotdigitalClient
from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from tests.preflight.support import make_settings, stage


def customers(n: int, **columns) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"email": f"c{i}@northwind-mail.co.uk", "first_name": f"Ann{i}"}
        row.update({k: (v(i) if callable(v) else v) for k, v in columns.items()})
        rows.append(row)
    return rows


def fields_json(**values) -> str:
    return json.dumps(values)


# ------------------------------------------------------------------------------ data fields
def test_a_new_account_misses_store_locale_and_custom_fields(emulator, preflight, store):
    stage(store, "customers", customers(
        4, store="uk-web", locale="en_GB",
        data_fields=lambda i: fields_json(LOYALTY_TIER="gold", POINTS=i, JOINED="2024-05-01")))
    result = preflight(emulator())
    check = result.check("data_fields")
    assert check.status == "fail" and check.severity == "error"
    assert not result.ok
    for name in ("STORE (4 customers)", "LOCALE (4 customers)", "LOYALTY_TIER (4 customers)",
                 "POINTS (4 customers)", "JOINED (4 customers)"):
        assert name in check.detail
    assert "FIRSTNAME" not in check.detail  # a default field of every account
    # the fix says what to create, with the type the staged values need
    for wanted in ("STORE (String)", "LOCALE (String)", "LOYALTY_TIER (String)",
                   "POINTS (Numeric)", "JOINED (Date)"):
        assert wanted in check.fix


def test_data_fields_pass_once_the_account_has_them(emulator, preflight, store):
    stage(store, "customers", customers(
        3, store="uk-web", data_fields=fields_json(LOYALTY_TIER="gold", POINTS=7)))
    server = emulator()
    for name, kind in (("STORE", "String"), ("LOYALTY_TIER", "String"), ("POINTS", "Numeric")):
        server.state.add_data_field(name, kind)
    check = preflight(server).check("data_fields")
    assert check.ok, check
    assert "POINTS" in check.detail and "STORE" in check.detail


@pytest.mark.parametrize(("kind", "value", "ok"), [
    ("Numeric", "gold", False), ("Numeric", 12, True), ("Numeric", "12.5", True),
    ("Date", "2024-05-01", True), ("Date", "last May", False), ("Date", 3, False),
    ("Boolean", True, True), ("Boolean", "yes please", False), ("String", 5, True),
])
def test_a_field_of_an_unfitting_type_fails(emulator, preflight, store, kind, value, ok):
    stage(store, "customers", customers(2, data_fields=fields_json(TIER=value)))
    server = emulator()
    server.state.add_data_field("TIER", kind)
    check = preflight(server).check("data_fields")
    assert check.ok is ok, check
    if not ok:
        assert f"TIER is {kind} in Dotdigital, but 2 staged values are" in check.detail
        assert str(value) not in check.detail  # values may be personal: never shown


def test_names_only_and_no_customers_need_nothing(emulator, preflight, store):
    server = emulator()
    assert preflight(server).check("data_fields").ok
    stage(store, "customers", customers(3, last_name="Smith"))
    assert preflight(server).check("data_fields").ok


def test_data_fields_are_read_in_chunks_in_the_same_pass_as_countries(emulator, preflight,
                                                                      store, monkeypatch):
    stage(store, "customers", customers(
        7, country="GB", data_fields=lambda i: fields_json(**{f"F{i}": "x"})))
    passes: list[list[int]] = []
    real = store.iter_staged

    def spy(entity, chunk_rows=50_000, order_by=None):
        sizes: list[int] = []
        if entity == "customers":
            passes.append(sizes)
        for frame in real(entity, chunk_rows=chunk_rows, order_by=order_by):
            sizes.append(len(frame))
            yield frame

    monkeypatch.setattr(store, "iter_staged", spy)
    result = preflight(emulator(), chunk_rows=3)
    assert passes == [[3, 3, 1]]  # customers read once, three rows at a time
    detail = result.check("data_fields").detail
    assert all(f"F{i} (1 customer)" in detail for i in range(7))


# ------------------------------------------------------------------------------ address book
def test_address_book_unset_set_and_unknown(emulator, preflight):
    server = emulator()
    assert preflight(server).check("address_book").ok
    check = preflight(server, address_book_id=2).check("address_book")
    assert check.ok and "'All contacts'" in check.detail
    result = preflight(server, address_book_id=999)
    check = result.check("address_book")
    assert check.status == "fail" and "999 is not a list of this account" in check.detail
    assert not result.ok


# ------------------------------------------------------------------------------ collection
def _orders_in(server: EmulatorServer, collection: str, n: int,
               scope: str = "contact") -> None:
    """Someone (another store, another tool) already put ``n`` records in the collection."""
    with DotdigitalClient.from_settings(make_settings(server), max_retries=0) as client:
        client.create_insight_collection(collection, scope=scope,
                                         type="orders" if scope == "contact" else "catalog")
        for i in range(n):
            if scope == "contact":
                client.upsert_contact({"identifiers": {"email": f"old{i}@example.org"}})
                client.upsert_contact_insight(collection, f"old-{i}", {"id": i},
                                              f"old{i}@example.org")
            else:
                client.upsert_account_insight(collection, f"p{i}", {"id": i})


@pytest.mark.parametrize("collection", ["Purchases", "Orders2"])
def test_the_collection_is_said_to_exist_or_not_with_its_records(emulator, preflight,
                                                                collection):
    server = emulator()
    check = preflight(server, insight_collection=collection).check("insight_collection")
    assert check.ok and "does not exist yet: the first run creates it" in check.detail
    _orders_in(server, collection, 3)
    check = preflight(server, insight_collection=collection).check("insight_collection")
    assert check.ok and f"{collection!r} exists (3 records, type orders)" in check.detail


def test_an_account_scoped_collection_of_that_name_fails(emulator, preflight):
    server = emulator()
    _orders_in(server, "Orders2", 1, scope="account")
    check = preflight(server, insight_collection="Orders2").check("insight_collection")
    assert check.status == "fail" and "account scope" in check.detail


# ------------------------------------------------------------------------------ send history
def test_an_empty_ledger_with_records_in_dotdigital_fails_naming_the_ways_out(
        emulator, preflight, store: Store):
    server = emulator()
    assert preflight(server).check("send_history").ok  # a new account: nothing sent before
    _orders_in(server, "Purchases", 2)
    result = preflight(server)
    check = result.check("send_history")
    assert check.status == "fail" and not result.ok
    assert "the ledger records nothing sent" in check.detail
    assert "'Purchases' already holds 2 records" in check.detail
    assert "dotsync migrate --to URL" in check.fix
    assert "dotsync sync --assume-sent-before DATE" in check.fix
    # once the ledger holds what was sent (migrated, or assumed sent), it passes
    Ledger(store).record("certificates", [{"key": "G1", "state": "synced"}])
    check = preflight(server).check("send_history")
    assert check.ok and "holds 2 records" in check.detail


def test_a_ledger_with_synced_orders_is_this_accounts_history(emulator, preflight, store):
    server = emulator()
    _orders_in(server, "Purchases", 1)
    Ledger(store).record("orders", [{"key": "O1", "state": "synced"}])
    assert preflight(server).check("send_history").ok


def test_pending_records_are_not_a_history(emulator, preflight, store):
    server = emulator()
    _orders_in(server, "Purchases", 1)
    Ledger(store).record("orders", [{"key": "O1", "state": "pending"}])
    Ledger(store).record("certificates", [{"key": "G1", "state": "rejected"}])
    assert preflight(server).check("send_history").status == "fail"
