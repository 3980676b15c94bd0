"""The backfill flow end to end: bulk endpoints only, limits kept, resumable."""

from __future__ import annotations

from collections import Counter

import pytest

from dotsync.store import Ledger
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage, states

pytestmark = pytest.mark.e2e

SINGLE_CALLS = ("/contacts/v3/email/", "/insightData/v3/contacts/")


def run_backfill(**params):
    from dotsync.flows.backfill import backfill

    params.setdefault("poll_interval", 0.02)
    return backfill.with_options(retries=0)(**params, return_state=True)


def stage_shop(store, customers=40, orders=80, certificates=6):
    stage(store, "customers", [customer(i) for i in range(customers)]
          + [customer(999, updated_at="not a timestamp")])
    stage(store, "orders", [order(i, f"customer{i % customers}@example.com")
                            for i in range(orders)]
          + [order(900, "guest@example.org"), order(901, "customer999@example.com")])
    stage(store, "certificates", [certificate(i, f"customer{i}@example.com")
                                  for i in range(certificates)])


def test_backfill_uses_bulk_imports_only_and_sends_no_confirmations(env, monkeypatch):
    monkeypatch.setenv("DOTSYNC_ORDER_CAMPAIGN", "Order confirmation")
    stage_shop(env.store)
    state = run_backfill(chunk_rows=100, import_max_bytes=4_000)
    assert state.is_completed(), state.message
    report = state.result()
    calls = env.emulator.state.calls()
    assert not [c for c in calls if c["path"].startswith(SINGLE_CALLS)]
    kinds = Counter(i["kind"] for i in env.emulator.state.imports())
    assert kinds["contacts"] >= 2 and kinds["insight"] >= 2  # sized by bytes: several
    assert not [c for c in calls if c["status"] == 429]
    assert env.emulator.state.sends() == []  # no confirmations, no certificates
    assert report["orders"]["sent"] == 81 and report["orders"]["skipped"] == 1
    assert len(env.emulator.state.insight_records("Purchases")) == 81
    assert env.emulator.state.contact("guest@example.org") is not None
    assert states(env.store, "customers")["C999"] == "rejected"
    assert Ledger(env.store).states("orders")["O901"] == "pending"
    assert "certificates" not in {k for k, v in states(env.store, "certificates").items()}


def test_backfill_with_certificates_sends_each_once_and_a_rerun_writes_nothing(env):
    stage_shop(env.store)
    assert run_backfill(include_certificates=True).is_completed()
    assert sends_by_code(env.emulator.state.sends()) == {f"CODE{i}": 1 for i in range(6)}
    before = len(env.emulator.state.calls())
    again = run_backfill(include_certificates=True)
    assert again.is_completed()
    new = env.emulator.state.calls()[before:]
    assert not [c for c in new if c["method"] in {"PUT", "PATCH", "POST", "DELETE"}]
    assert again.result()["write_calls"] == 0


def test_a_failed_import_is_resumed_without_resending_what_finished(env):
    stage_shop(env.store, customers=30, orders=60, certificates=0)
    env.emulator.state.set_faults(error_rate=1.0, paths=["/insightData/v3/import"])
    first = run_backfill(import_max_bytes=4_000)
    assert first.is_completed()
    failed = first.result()["orders"]
    assert failed["failed"] == 61 and failed["considered"] == 62  # retries counted once
    contact_imports = [i for i in env.emulator.state.imports() if i["kind"] == "contacts"]
    env.emulator.state.set_faults(error_rate=0.0, paths=None)
    second = run_backfill(import_max_bytes=4_000)
    assert second.is_completed()
    report = second.result()
    assert report["contacts"]["sent"] == 0  # every contact had finished: none re-sent
    assert report["orders"]["sent"] == 61  # 60 + the guest's order
    order_states = states(env.store, "orders")
    assert order_states.pop("O901") == "pending"  # its customer was rejected: it waits
    assert set(order_states.values()) == {"synced"}
    again = [i for i in env.emulator.state.imports() if i["kind"] == "contacts"]
    assert len(again) == len(contact_imports)  # no contact import was submitted again


def test_since_limits_the_backfill_to_recent_changes(env):
    stage(env.store, "customers", [
        customer(1, updated_at="2025-01-01T00:00:00Z"),
        customer(2, updated_at="2026-06-01T00:00:00Z"),
    ])
    assert run_backfill(since="2026-01-01").is_completed()
    assert env.emulator.state.contact("customer2@example.com") is not None
    assert env.emulator.state.contact("customer1@example.com") is None
    assert "C1" not in states(env.store, "customers")


def test_the_command_sizes_imports_by_its_import_max_bytes(env):
    import json

    from click.testing import CliRunner
    from dotsync.deployments.cli import main

    stage_shop(env.store, customers=100, orders=200, certificates=0)
    runner = CliRunner()
    refused = runner.invoke(main, ["backfill", "--import-max-bytes", "60000000"])
    assert refused.exit_code == 2 and "--import-max-bytes" in refused.output
    result = runner.invoke(main, ["backfill", "--import-max-bytes", "10000",
                                  "--poll-interval", "0.02", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the run's log lines go to stderr
    assert report["contacts"]["sent"] == 101 and report["orders"]["sent"] == 201
    imports = env.emulator.state.imports()
    contact_imports = [i for i in imports if i["kind"] == "contacts"]
    # 101 contacts of 150 to 300 bytes (customers and guests, in one stream) do not fit
    # one 10,000-byte import.
    assert len(contact_imports) >= 2
