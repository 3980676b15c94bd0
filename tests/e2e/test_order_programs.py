"""Programs started by order events (DOTSYNC_PROGRAMS) against the emulator, from an
empty account: each (event, order) enrols once, across re-runs and re-sent orders, and
never a contact without marketing consent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.engine import SyncEngine
from dotsync.sync.run import run_sync
from tests.e2e.helpers import customer, order, stage
from tests.reliability.harness import make_client, settings_for, sync_options

FIRST, SHIPPED, REFUNDED = 801, 802, 803
PROGRAMS = (("first_order", FIRST), ("order_status:shipped", SHIPPED), ("refunded", REFUNDED))


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(random_seed=7)) as server:
        for program_id, name in ((FIRST, "Welcome"), (SHIPPED, "Shipped"),
                                 (REFUNDED, "Sorry")):
            server.state.add_program(program_id, name)
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'programs.db'}")
    yield s
    s.dispose()


def run(store: Store, emulator: EmulatorServer, **settings: Any) -> Any:
    config = settings_for(emulator, store.url, programs=PROGRAMS, **settings)
    with make_client(config) as client:
        return run_sync(SyncEngine(store, config, client, options=sync_options()))


def enrolled(emulator: EmulatorServer, program: int) -> dict[str, int]:
    by_id = {c["contactId"]: c["identifiers"]["email"] for c in emulator.state.contacts()}
    return {by_id[i]: n for i, n in emulator.state.programs.enrolled(program).items()}


def test_each_event_of_each_order_enrols_once_and_never_without_consent(store,
                                                                        emulator) -> None:
    stage(store, "customers", [customer(1), customer(2, email_consent="unsubscribed")])
    stage(store, "orders", [order(1, "customer1@example.com"),
                            order(2, "customer1@example.com",
                                  placed_at="2026-10-03T10:00:00Z"),
                            order(3, "customer2@example.com")])
    run(store, emulator)
    assert enrolled(emulator, FIRST) == {"customer1@example.com": 1}
    assert enrolled(emulator, SHIPPED) == enrolled(emulator, REFUNDED) == {}
    states = Ledger(store).states("program_enrolments")
    assert states == {"first_order|O1": "synced"}, "O2 is not a first order; O3 no consent"

    stage(store, "orders", [order(1, "customer1@example.com", status="shipped",
                                  updated_at="2026-10-04T10:00:00Z"),
                            order(3, "customer2@example.com", status="shipped",
                                  updated_at="2026-10-04T10:00:00Z")])
    run(store, emulator)
    assert enrolled(emulator, SHIPPED) == {"customer1@example.com": 1}
    assert enrolled(emulator, FIRST) == {"customer1@example.com": 1}, "O1 re-sent, not re-enrolled"

    stage(store, "orders", [order(2, "customer1@example.com", placed_at="2026-10-03T10:00:00Z",
                                  refunded="24.00", updated_at="2026-10-05T10:00:00Z")])
    run(store, emulator)
    run(store, emulator)
    assert enrolled(emulator, REFUNDED) == {"customer1@example.com": 1}
    assert enrolled(emulator, SHIPPED) == {"customer1@example.com": 1}
    assert enrolled(emulator, FIRST) == {"customer1@example.com": 1}
    assert Ledger(store).states("program_enrolments") == {
        "first_order|O1": "synced", "order_status:shipped|O1": "synced",
        "refunded|O2": "synced"}


def test_no_program_configured_makes_no_program_call(store, emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "orders", [order(1, "customer1@example.com")])
    config = settings_for(emulator, store.url)
    with make_client(config) as client:
        report = run_sync(SyncEngine(store, config, client, options=sync_options()))
    assert not {op for op in report.api_calls if "enrol" in op or op == "get_contact"}
    assert Ledger(store).states("program_enrolments") == {}
