"""The scheduled sync pipelines its chunks of changed orders through insight imports.

Runs go through :func:`dotsync.sync.run.run_sync` against the emulator in this process,
from an empty account, with small chunks and small imports so one run has many of
both; the emulator is watched at the failpoints the run passes (``hooks``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dotsync import failpoints
from dotsync.emulator import EmulatorServer
from dotsync.store import Store
from tests.e2e.helpers import customer, order, stage, states
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import settings_for, sync_once

CUSTOMERS, ORDERS = 30, 90


@pytest.fixture
def slow_imports() -> Iterator[EmulatorServer]:
    """Imports that take a while, so a run really has several in flight at once."""
    with EmulatorServer(emulator_config(import_delay=0.6)) as server:
        yield server


@pytest.fixture
def watch() -> Iterator[dict[str, list[Any]]]:
    """Record, at each failpoint of a run, what the emulator has in flight."""
    seen: dict[str, list[Any]] = {"submits": [], "reads": []}
    yield seen
    failpoints.hooks.clear()


def _stage(store: Store) -> None:
    stage(store, "customers", [customer(i) for i in range(CUSTOMERS)])
    # Every third order is a guest checkout: its e-mail-only contact is pushed with
    # its chunk, while earlier chunks' imports may still run.
    stage(store, "orders", [order(i, f"guest{i}@example.org" if i % 3 == 0
                                  else f"customer{i % CUSTOMERS}@example.com")
                            for i in range(ORDERS)])


def _run(store: Store, emulator: EmulatorServer, **over: Any) -> Any:
    options: dict[str, Any] = {"bulk_threshold": 5, "import_max_bytes": 3_000,
                               "insight_imports_in_flight": 2, "chunk_rows": 10}
    options.update(over)
    return sync_once(store, settings_for(emulator, "unused"), **options)


def test_chunks_are_read_while_earlier_imports_run_at_most_n_in_flight(
        sqlite_store: Store, slow_imports: EmulatorServer, watch: dict[str, list[Any]]) -> None:
    emulator, store = slow_imports, sqlite_store
    _stage(store)
    contacts_done: list[bool] = []
    failpoints.hooks["after_import_submit"] = lambda: watch["submits"].append(
        (emulator.state.active_imports("insight"), emulator.state.active_imports("contacts")))
    failpoints.hooks["after_change_read"] = lambda: watch["reads"].append(
        emulator.state.active_imports("insight"))
    failpoints.hooks["after_mark"] = lambda: contacts_done.append(True)

    report = _run(store, emulator)

    assert report.counts["orders"].sent == ORDERS, report.problems
    assert not [p for p in report.problems if p.code == "waiting_for_contact"]
    insight = [i for i in emulator.state.imports() if i["kind"] == "insight"]
    assert len(insight) >= 6  # many imports, over many chunks
    # Never more insight imports at the emulator than the run allows itself.
    assert max(n for n, _ in watch["submits"]) <= 2
    assert max(n for n, _ in watch["submits"]) == 2  # and it does use both slots
    # Pipelined: a chunk of orders was read while an earlier chunk's import ran.
    assert any(n > 0 for n in watch["reads"])
    # Contacts first: no order record was refused for a missing contact.
    assert all(not i.get("failures") for i in insight), insight
    assert set(states(store, "orders").values()) == {"synced"}
    # Each order is one record in the collection.
    keys = [r["key"] for r in emulator.state.insight_records("Purchases")]
    assert sorted(keys) == sorted(f"O{i}" for i in range(ORDERS))


def test_few_changed_orders_over_many_chunks_go_as_single_calls(
        sqlite_store: Store, slow_imports: EmulatorServer) -> None:
    emulator, store = slow_imports, sqlite_store
    stage(store, "customers", [customer(i) for i in range(4)])
    stage(store, "orders", [order(i, f"customer{i % 4}@example.com") for i in range(4)])
    report = _run(store, emulator, chunk_rows=1)
    assert report.counts["orders"].sent == 4
    assert [i for i in emulator.state.imports() if i["kind"] == "insight"] == []


def test_a_change_in_some_orders_sends_only_those(
        sqlite_store: Store, slow_imports: EmulatorServer) -> None:
    emulator, store = slow_imports, sqlite_store
    _stage(store)
    _run(store, emulator)
    before = len([i for i in emulator.state.imports() if i["kind"] == "insight"])
    stage(store, "orders", [order(i, f"customer{i % CUSTOMERS}@example.com", total="30.00",
                                  subtotal="30.00") for i in range(1, ORDERS, 3)])
    report = _run(store, emulator)
    assert report.counts["orders"].sent == len(range(1, ORDERS, 3)), report.problems
    assert len([i for i in emulator.state.imports() if i["kind"] == "insight"]) > before
    totals = {r["key"]: r["json"]["order_total"]
              for r in emulator.state.insight_records("Purchases")}
    assert totals["O1"] == 30.0 and totals["O2"] == 24.0
