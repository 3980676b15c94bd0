"""A backfill builds its first insight imports while its last contact imports run, and
submits none before every contact is settled; an order built ahead whose contact did
not make it into Dotdigital is taken out of its body and waits, as it would have."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dotsync import failpoints
from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.report import RunReport
from dotsync.sync.run import run_backfill
from tests.e2e.helpers import customer, order, stage

pytestmark = pytest.mark.e2e


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    # Contact imports that take a while: the orders' first bodies are built meanwhile.
    with EmulatorServer(EmulatorConfig(import_delay=0.6, random_seed=1)) as server:
        yield server


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many orders each body built ahead (waiting on disk for a slot) held."""
    from dotsync.sync.steps import orders_ahead

    sizes: list[int] = []
    original = orders_ahead._spool

    def spy(rows: Any) -> Any:
        sizes.append(len(rows))
        return original(rows)

    monkeypatch.setattr(orders_ahead, "_spool", spy)
    return sizes


def backfill(env: Any, **options: Any) -> RunReport:
    settings = Settings.from_env()
    with DotdigitalClient.from_settings(settings) as client:
        engine = SyncEngine(env.store, settings, client, flow="backfill", options=Options(
            bulk_threshold=0, poll_interval=0.1, confirmations=False, track_settled=False,
            import_max_bytes=3_000, **options))
        return run_backfill(engine, chunk_rows=7)


def stage_shop(env: Any, customers: int = 40) -> None:
    stage(env.store, "customers", [customer(i) for i in range(customers)])
    stage(env.store, "orders", [order(i, f"customer{i % customers}@example.com")
                                for i in range(2 * customers)])


def calls_in_order(env: Any) -> list[dict[str, Any]]:
    return sorted(env.emulator.state.calls(), key=lambda c: c["time"])


def assert_no_insight_import_before_the_contacts_settled(env: Any) -> None:
    calls = calls_in_order(env)
    first_insight = next(i for i, c in enumerate(calls)
                         if c["path"].startswith("/insightData/v3/import"))
    contact_polls = [i for i, c in enumerate(calls)
                     if c["path"].startswith("/contacts/v3/import/")]
    contact_imports = {c["path"].rsplit("/", 1)[1] for c in calls
                       if c["path"].startswith("/contacts/v3/import/")}
    assert contact_polls and max(contact_polls) < first_insight
    # Every contact import was followed to its end before (each one's last poll said so).
    ended = {i["id"] for i in env.emulator.state.imports()
             if i["kind"] == "contacts" and i["status"] != "NotFinished"}
    assert contact_imports <= ended


def test_orders_are_built_ahead_and_sent_once_the_contacts_are_settled(env, spooled):
    stage_shop(env)
    report = backfill(env)

    assert spooled, "no insight body was built while the contact imports ran"
    assert sum(spooled) >= 5
    assert_no_insight_import_before_the_contacts_settled(env)
    orders = Ledger(env.store).states("orders")
    assert len(orders) == 80 and set(orders.values()) == {"synced"}
    assert len(env.emulator.state.insight_records("Purchases")) == 80
    assert report.counts["orders"].sent == 80 and report.counts["orders"].skipped == 0
    assert set(Ledger(env.store).states("customers").values()) == {"synced"}


def test_an_order_built_ahead_whose_contact_failed_waits_and_is_not_sent(env, spooled):
    stage_shop(env)
    # The third contact import fails as a whole (its contacts are not in Dotdigital);
    # it is submitted after the second, and still runs when the first orders are built.
    hits = {"n": 0}

    def fail_the_next_import() -> None:
        hits["n"] += 1
        if hits["n"] == 2:
            env.emulator.state.faults.fail_first_imports = 1

    failpoints.hooks["after_import_submit"] = fail_the_next_import
    try:
        report = backfill(env)
    finally:
        failpoints.hooks.pop("after_import_submit", None)

    assert spooled
    assert_no_insight_import_before_the_contacts_settled(env)
    ledger = Ledger(env.store)
    customers = ledger.states("customers")
    failed = {f"customer{k[1:]}@example.com" for k, v in customers.items() if v == "failed"}
    assert failed and len(failed) < 40
    sent = {r["key"] for r in env.emulator.state.insight_records("Purchases")}
    expected = {f"O{i}" for i in range(80) if f"customer{i % 40}@example.com" not in failed}
    assert sent == expected
    orders = ledger.states("orders")
    assert {k for k, v in orders.items() if v == "synced"} == expected
    waiting = [p for p in report.problems if p.entity == "orders"]
    assert {p.key for p in waiting} == {f"O{i}" for i in range(80)} - expected
    assert all(p.state == "waiting" and p.code == "waiting_for_contact" for p in waiting)
    # Each says why: its contact's import failed.
    assert all("failed" in p.reason for p in waiting)
    assert report.counts["orders"].sent == len(expected)
    assert report.counts["orders"].skipped == 80 - len(expected)


def test_every_contact_failing_leaves_every_order_built_ahead_waiting(env, spooled):
    stage_shop(env, customers=12)
    env.emulator.state.faults.fail_first_imports = 100
    report = backfill(env)

    assert spooled
    assert not any(c["path"].startswith("/insightData") for c in env.emulator.state.calls())
    assert env.emulator.state.insight_records("Purchases") == []
    assert report.counts["orders"].skipped == 24 and report.counts["orders"].sent == 0
    assert {p.key for p in report.problems if p.entity == "orders"} == {
        f"O{i}" for i in range(24)}
