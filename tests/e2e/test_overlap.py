"""Orders overlap the contact imports: an order whose contact is already in Dotdigital
goes while this run's contact import runs; an order whose contact is new in this run
goes only after that import has been seen to finish.

Runs go through :func:`dotsync.sync.run.run_sync` (the registry's steps, as the flow
runs them) against the emulator, from an empty account, on SQLite and PostgreSQL.
Imports take a while in the emulator (``import_delay``), so they really are in flight.
What is asserted is the order of the calls the emulator received (each has a
sequence number), never how long anything took: a contact import's last status poll
is the one that saw it end (the pipeline stops polling an import once it ended).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from tests.e2e.helpers import customer, order, stage, states
from tests.reliability.harness import settings_for, sync_once

CONTACT_POLL = "/contacts/v3/import/"
INSIGHT_WRITE = "/insightData/v3/"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.3, random_seed=3)) as server:
        yield server


def run(store: Store, emulator: EmulatorServer, **options: Any) -> Any:
    return sync_once(store, settings_for(emulator, "unused"), **options)


def calls_since(emulator: EmulatorServer, seq: int) -> list[dict[str, Any]]:
    return [c for c in emulator.state.calls() if c["seq"] > seq
            and not c["path"].startswith("/_emulator")]


def known_imports(emulator: EmulatorServer) -> set[str]:
    return {imp["id"] for imp in emulator.state.imports()}


def contacts_settled_at(emulator: EmulatorServer, calls: list[dict[str, Any]],
                        known: set[str]) -> int:
    """The sequence number of the poll that saw the run's first contact import (the
    contacts step's) end: its last one."""
    ours = [imp["id"] for imp in emulator.state.imports()
            if imp["kind"] == "contacts" and imp["id"] not in known]
    assert ours, "the run had no contact import"
    polls = [c["seq"] for c in calls
             if c["method"] == "GET" and c["path"].endswith(CONTACT_POLL + ours[0])]
    assert polls, ours[0]
    return max(polls)


def insight_writes(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if c["method"] == "PUT" and INSIGHT_WRITE in c["path"]]


def upsert_of(calls: list[dict[str, Any]], order_id: str) -> int:
    """The sequence number of the single insight upsert of ``order_id``."""
    found = [c["seq"] for c in insight_writes(calls) if c["path"].endswith(f"/{order_id}")]
    assert len(found) == 1, (order_id, insight_writes(calls))
    return found[0]


def touch(store: Store, table: str, key_column: str, key: str, column: str,
          value: str) -> None:
    """A change made the way a source system makes it: plain SQL."""
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {key_column} = :k"),
                     {"v": value, "k": key})


def synced_orders(emulator: EmulatorServer) -> dict[str, str]:
    return {r["key"]: r.get("email") or "" for r in emulator.state.insight_records("Purchases")}


def test_from_an_empty_account_every_order_waits_for_its_new_contact(
        store: Store, emulator: EmulatorServer) -> None:
    stage(store, "customers", [customer(i) for i in range(1, 5)])
    stage(store, "orders", [order(i, f"customer{i}@example.com") for i in range(1, 5)])
    report = run(store, emulator, bulk_threshold=0)
    assert report.counts["orders"].sent == 4, report.problems
    calls = calls_since(emulator, 0)
    settled = contacts_settled_at(emulator, calls, set())
    writes = insight_writes(calls)
    assert writes and all(c["seq"] > settled for c in writes), (settled, writes)
    assert set(states(store, "orders").values()) == {"synced"}
    assert sorted(synced_orders(emulator)) == ["O1", "O2", "O3", "O4"]


def test_an_existing_contacts_order_goes_before_the_contact_import_ends_a_new_one_after(
        store: Store, emulator: EmulatorServer) -> None:
    stage(store, "customers", [customer(i) for i in (1, 2)])
    stage(store, "orders", [order(1, "customer1@example.com")])
    run(store, emulator)
    # Customer 1 and its order change; customer 9 is new, with an order of its own.
    touch(store, "customers", "customer_id", "C1", "first_name", "Changed")
    touch(store, "orders", "order_id", "O1", "coupon_code", "SPRING")
    stage(store, "customers", [customer(9)])
    stage(store, "orders", [order(9, "customer9@example.com")])
    before = max(c["seq"] for c in emulator.state.calls())
    known = known_imports(emulator)
    # Two contacts make an import (more than one); each order goes as a single upsert,
    # whose path names it.
    report = run(store, emulator, bulk_threshold=1)
    assert report.counts["contacts"].sent == 2, report.problems
    assert report.counts["orders"].sent == 2, report.problems
    calls = calls_since(emulator, before)
    settled = contacts_settled_at(emulator, calls, known)
    assert upsert_of(calls, "O1") < settled  # while customer 1's update is in flight
    assert upsert_of(calls, "O9") > settled  # only once customer 9's contact exists
    assert states(store, "orders") == {"O1": "synced", "O9": "synced"}
    assert synced_orders(emulator) == {"O1": "customer1@example.com",
                                       "O9": "customer9@example.com"}
    assert emulator.state.contact("customer1@example.com")["dataFields"]["FIRSTNAME"] == \
        "Changed"


def test_in_bulk_the_existing_contacts_orders_make_the_import_sent_before_the_contacts_end(
        store: Store, emulator: EmulatorServer) -> None:
    stage(store, "customers", [customer(i) for i in range(1, 6)])
    stage(store, "orders", [order(i, f"customer{i}@example.com") for i in range(1, 6)])
    run(store, emulator, bulk_threshold=0)
    # Customers 1-4 change with their orders; 6-8 are new, with orders; customer 5 is
    # unchanged but its contact was deleted in Dotdigital meanwhile (the ledger still
    # says synced): its changed order is refused for a missing contact and retried once
    # the contact is pushed again.
    for i in range(1, 6):
        if i < 5:
            touch(store, "customers", "customer_id", f"C{i}", "first_name", f"Changed{i}")
        touch(store, "orders", "order_id", f"O{i}", "coupon_code", "SPRING")
    stage(store, "customers", [customer(i) for i in range(6, 9)])
    stage(store, "orders", [order(i, f"customer{i}@example.com") for i in range(6, 9)])
    emulator.state.delete_contact("email", "customer5@example.com")
    known = known_imports(emulator)
    before = max(c["seq"] for c in emulator.state.calls())
    report = run(store, emulator, bulk_threshold=0)
    assert report.counts["orders"].sent == 8, report.problems
    calls = calls_since(emulator, before)
    settled = contacts_settled_at(emulator, calls, known)
    writes = insight_writes(calls)
    # Orders 1-5 while the contacts step's import ran; order 5 again once its contact
    # was pushed again (that import's wait also follows the contacts step's import, so
    # either side of its end); orders 6-8 after it ended.
    assert len(writes) == 3
    assert writes[0]["seq"] < settled < writes[-1]["seq"], (settled, writes)
    # The run's first insight import carried the five orders of existing contacts and
    # none of the new contacts' (its id is in its answer, so it is found by its size).
    imports = [imp for imp in emulator.state.imports()
               if imp["kind"] == "insight" and imp["id"] not in known]
    sizes = sorted(imp["summary"]["totalRecords"] for imp in imports)
    assert 5 in sizes and sum(sizes) == 5 + 3 + 1, sizes  # + order 5 sent again
    refused = [f["key"] for imp in imports for f in imp.get("failures", [])]
    assert refused == ["O5"]
    assert set(states(store, "orders").values()) == {"synced"}
    assert sorted(synced_orders(emulator)) == [f"O{i}" for i in range(1, 9)]
    assert emulator.state.contact("customer5@example.com") is not None
