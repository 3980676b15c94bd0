"""An ended import is settled a slice at a time; every record still gets its own outcome."""

from __future__ import annotations

import pytest

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.store import Ledger
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.run import run_backfill
from tests.e2e.helpers import customer, order, stage, states

pytestmark = pytest.mark.e2e


def plain_backfill(env, **options):
    settings = Settings.from_env()
    with DotdigitalClient.from_settings(settings) as client:
        engine = SyncEngine(env.store, settings, client, flow="backfill", options=Options(
            bulk_threshold=0, poll_interval=0.02, confirmations=False, track_settled=False,
            **options))
        return run_backfill(engine, chunk_rows=7)


@pytest.mark.parametrize("settle_batch", [1, 3, 10_000])
def test_slices_give_each_record_the_outcome_of_its_own_import(env, settle_batch):
    # C5 and C15 share a mobile number: Dotdigital rejects the later of the two (Duplicate),
    # which in e-mail order is customer5, so a rejection lands inside an import.
    shared = "+447400123456"
    stage(env.store, "customers", [
        customer(i, mobile_number=shared if i in (5, 15) else None) for i in range(30)])
    stage(env.store, "orders", [order(i, f"customer{i % 30}@example.com") for i in range(60)])
    report = plain_backfill(env, settle_batch=settle_batch, import_max_bytes=3_000)

    imports = [i for i in env.emulator.state.imports() if i["kind"] == "contacts"]
    assert len(imports) >= 3  # several imports, each settled in several slices
    customers = states(env.store, "customers")
    rejected = {k for k, v in customers.items() if v == "rejected"}
    assert rejected == {"C5"}
    assert all(v == "synced" for k, v in customers.items() if k != "C5")
    assert len(customers) == 30
    problem = next(p for p in report.problems if p.key == "C5")
    assert "Duplicate" in problem.reason
    orders = Ledger(env.store).states("orders")
    assert len(orders) == 60
    # The rejected contact's orders wait for it; every other order is in Dotdigital.
    waiting = {k for k, v in orders.items() if v != "synced"}
    assert waiting == {"O5", "O35"}
    assert len(env.emulator.state.insight_records("Purchases")) == 58
    assert report.counts["contacts"].sent == 29 and report.counts["contacts"].rejected == 1
    assert report.counts["orders"].sent == 58
