"""The guests' e-mail-only contacts go with the customers' contacts, in one stream.

The contacts step of the scheduled sync reads the e-mail column of the changed orders
and certificates and pushes the contacts no customer holds after the customers', so
they share the customers' import instead of imports (and polls) of their own; the
orders and certificates steps push only what that read could not know. Runs go
through :func:`dotsync.sync.run.run_sync` against the emulator in this process, from
an empty account.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync import guests
from dotsync.sync.engine import SyncEngine
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage, states
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import make_client, settings_for, sync_once, sync_options

CUSTOMERS = 12


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config()) as server:
        yield server


@pytest.fixture(params=["sqlite_store", "postgres_store"])
def store(request: pytest.FixtureRequest) -> Store:
    """The store on SQLite, and on PostgreSQL (its change stamps are transaction ids)."""
    return request.getfixturevalue(request.param)


def _run(store: Store, emulator: EmulatorServer, **over: Any) -> Any:
    # Bulk from 5 contacts; chunks of 4 rows, so the guests come over several reads.
    options: dict[str, Any] = {"bulk_threshold": 5, "chunk_rows": 4,
                               "track_settled": False}
    options.update(over)
    return sync_once(store, settings_for(emulator, "unused"), **options)


def _contact_imports(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [i for i in emulator.state.imports() if i["kind"] == "contacts"]


def _contact_writes(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """Single contact calls (create or upsert), outside the imports."""
    return [c for c in emulator.state.calls() if c["path"].startswith("/contacts/v3")
            and c["method"] in {"PATCH", "PUT", "POST"} and "import" not in c["path"]]


def _shop(store: Store) -> None:
    stage(store, "customers", [customer(i) for i in range(CUSTOMERS)])
    stage(store, "orders", [
        *[order(i, f"customer{i}@example.com") for i in range(6)],
        # guests, one of them twice in two spellings (in two chunks)
        *[order(10 + i, f"guest{i}@example.org") for i in range(5)],
        order(20, " Guest0@Example.ORG "),
        # no customer_email: the customer's e-mail is the contact
        order(21, None, customer_id="C7"),
    ])
    stage(store, "certificates", [
        certificate(1, "customer1@example.com"),   # a customer
        certificate(2, "friend@example.net"),      # nobody's customer
        certificate(3, "guest1@example.org"),      # a guest who also ordered
    ])


def test_customers_guests_and_recipients_share_one_contact_import(
        store: Store, emulator: EmulatorServer) -> None:
    _shop(store)
    report = _run(store, emulator)

    imports = _contact_imports(emulator)
    assert len(imports) == 1, imports
    assert _contact_writes(emulator) == []  # no guest went on its own
    emails = {c["identifiers"]["email"] for c in emulator.state.contacts()}
    assert emails == ({f"customer{i}@example.com" for i in range(CUSTOMERS)}
                      | {f"guest{i}@example.org" for i in range(5)} | {"friend@example.net"})
    assert set(states(store, "customers").values()) == {"synced"}
    assert set(states(store, "contacts").values()) == {"synced"}
    assert states(store, "orders") == {k: "synced" for k in [
        *(f"O{i}" for i in range(6)), *(f"O{10 + i}" for i in range(5)), "O20", "O21"]}
    records = emulator.state.insight_records("Purchases")
    assert sorted(r["key"] for r in records) == sorted(states(store, "orders"))
    assert sends_by_code(emulator.state.sends()) == {"CODE1": 1, "CODE2": 1, "CODE3": 1}
    assert report.counts["orders"].sent == 13 and report.counts["certificates"].sent == 3
    # The contacts were settled before any order or certificate went.
    calls = emulator.state.calls()
    settled = max(c["seq"] for c in calls if c["path"].startswith("/contacts/v3/import"))
    first_sent = min(c["seq"] for c in calls if c["path"].startswith("/insightData/")
                     or "campaigns" in c["path"])
    assert settled < first_sent


def test_a_run_limited_to_orders_still_pushes_the_guests(
        sqlite_store: Store, emulator: EmulatorServer) -> None:
    stage(sqlite_store, "orders", [order(i, f"guest{i}@example.org") for i in range(8)])
    report = _run(sqlite_store, emulator, entities=["orders"])
    assert report.counts["orders"].sent == 8, report.problems
    assert {c["identifiers"]["email"] for c in emulator.state.contacts()} == {
        f"guest{i}@example.org" for i in range(8)}
    assert set(states(sqlite_store, "orders").values()) == {"synced"}


def test_an_invalid_order_email_creates_no_contact(
        sqlite_store: Store, emulator: EmulatorServer) -> None:
    stage(sqlite_store, "customers", [customer(i) for i in range(6)])
    stage(sqlite_store, "orders", [order(1, "guest@example.org"),
                                   order(2, "not an e-mail"), order(3, "guest@@example")])
    report = _run(sqlite_store, emulator)
    assert {c["identifiers"]["email"] for c in emulator.state.contacts()} == (
        {f"customer{i}@example.com" for i in range(6)} | {"guest@example.org"})
    assert len(_contact_imports(emulator)) == 1
    assert report.counts["orders"].rejected == 2
    assert states(sqlite_store, "orders") == {"O1": "synced", "O2": "rejected",
                                              "O3": "rejected"}


def test_a_guest_settled_by_this_run_is_not_handed_over_again(
        sqlite_store: Store, emulator: EmulatorServer) -> None:
    # What keeps the orders' and certificates' steps from pushing again a guest the
    # contacts step pushed: the ledger, read afresh (a plain run keeps no settled set).
    settings = settings_for(emulator, "unused")
    with make_client(settings) as client:
        engine = SyncEngine(sqlite_store, settings, client,
                            options=sync_options(track_settled=False))
        ledger = Ledger(sqlite_store)
        assert [i["key"] for i in guests.items(engine, ["a@example.org"])] == ["a@example.org"]
        ledger.record("contacts", [{"key": "a@example.org", "state": "synced"}],
                      run_id="an earlier run")
        ledger.record("contacts", [{"key": "b@example.org", "state": "rejected"},
                                   {"key": "c@example.org", "state": "failed"}],
                      run_id=engine.ctx.run_id)
        ledger.record("contacts", [{"key": "d@example.org", "state": "failed"}],
                      run_id="an earlier run")
        found = guests.items(engine, [f"{x}@example.org" for x in "abcd"])
        # synced: in Dotdigital; rejected or failed by this run: not again this run;
        # failed in an earlier run: this run retries it.
        assert [i["key"] for i in found] == ["d@example.org"]


def test_changed_items_read_only_what_changed_since_the_mark(
        store: Store, emulator: EmulatorServer) -> None:
    stage(store, "orders", [order(i, f"guest{i}@example.org") for i in range(3)])
    _run(store, emulator)
    stage(store, "orders", [order(9, "later@example.org")])
    settings = settings_for(emulator, "unused")
    with make_client(settings) as client:
        engine = SyncEngine(store, settings, client, options=sync_options())
        keys = [i["key"] for i in guests.changed_items(engine, ["orders"], 2)]
    assert keys == ["later@example.org"]


def test_a_dry_run_counts_each_guest_once(sqlite_store: Store, emulator: EmulatorServer) -> None:
    stage(sqlite_store, "customers", [customer(i) for i in range(2)])
    stage(sqlite_store, "orders", [order(i, "guest@example.org") for i in range(6)])
    stage(sqlite_store, "certificates", [certificate(1, "guest@example.org")])
    report = _run(sqlite_store, emulator, dry_run=True)
    assert report.counts["contacts"].sent == 3  # two customers and the guest
    assert emulator.state.contacts() == []
