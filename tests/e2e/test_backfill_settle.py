"""An ended import is settled a slice at a time; every record still gets its own outcome."""

from __future__ import annotations

import pytest

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.store import Ledger
from dotsync.store import warnings as field_warnings
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
    # C5 and C15 share a mobile number, in different chunks: Dotdigital refuses the later
    # of the two (Duplicate), which in e-mail order is customer5, so a refusal lands inside
    # an import. SPEC §1: that contact is sent again without the number, with a warning,
    # never rejected; every other record keeps its own outcome.
    shared = "+447400123456"
    stage(env.store, "customers", [
        customer(i, mobile_number=shared if i in (5, 15) else None) for i in range(30)])
    stage(env.store, "orders", [order(i, f"customer{i % 30}@example.com") for i in range(60)])
    report = plain_backfill(env, settle_batch=settle_batch, import_max_bytes=3_000)

    imports = [i for i in env.emulator.state.imports() if i["kind"] == "contacts"]
    assert len(imports) >= 3  # several imports, each settled in several slices
    customers = states(env.store, "customers")
    assert len(customers) == 30
    assert all(v == "synced" for v in customers.values())
    warned = field_warnings.frame(env.store, "customers")
    assert warned[["key", "check"]].values.tolist() == [["C5", "duplicate_identifier"]]
    assert "mobileNumber" not in env.emulator.state.contact(
        "customer5@example.com")["identifiers"]
    assert env.emulator.state.contact("customer15@example.com")["identifiers"][
        "mobileNumber"] == "447400123456"
    orders = Ledger(env.store).states("orders")
    assert len(orders) == 60 and set(orders.values()) == {"synced"}
    assert len(env.emulator.state.insight_records("Purchases")) == 60
    assert report.counts["contacts"].sent == 30 and report.counts["contacts"].rejected == 0
    assert report.counts["orders"].sent == 60
