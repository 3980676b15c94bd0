"""Guarantee 4: nothing else is touched.

* A rejected record never changes another record: a shop synced with its bad records
  leaves Dotdigital and the good records' ledger rows exactly as the same shop without
  them would (only the bad records' own dependants wait for them).
* A failed run leaves the ledger consistent: a run that dies of refused credentials, of
  an unexpected error in one of its steps, or of a configuration error, leaves only
  true statements in the ledger, and the next runs finish the job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.engine import RunFailed, SyncEngine
from dotsync.sync.run import run_sync
from tests.e2e.helpers import certificate, customer, order, stage
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import (
    ORDER_CAMPAIGN,
    PASSWORD,
    ShopSize,
    converge,
    make_client,
    settings_for,
    stage_shop,
    sync_once,
    sync_options,
)
from tests.reliability.invariants import check_consistent, check_invariants

GOOD = ShopSize(customers=12, orders=24, certificates=10)


def _bad_records(store: Store) -> None:
    """Records each wrong in its own way, several of them in the same import, batch or
    e-mail as good records: a bad row sharing a good customer's e-mail, a bad order and
    certificate for a good customer, a certificate Dotdigital refuses (hard-bounced
    recipient) in the middle of a batch of good ones; and records sent with a field left
    out (a warning): a mobile number two contacts share, a name too long, a bad mobile."""
    stage(store, "customers", [
        customer(500, email="customer3@example.com", email_consent="yes",
                 updated_at="2026-12-01T00:00:00Z"),         # newer, invalid, same e-mail
        customer(501, email="not-an-email"),
        customer(502, updated_at="soon"),
        customer(503, email="dup-mobile-a@example.com", mobile_number="07911 123456"),
        customer(504, email="dup-mobile-b@example.com", mobile_number="07911 123456"),
        customer(505, first_name="X" * 51, mobile_number="12"),
    ])
    stage(store, "orders", [
        order(500, "customer1@example.com", currency="GBX"),
        order(501, "customer2@example.com", lines="[]"),
        order(502, "customer2@example.com", total="-5"),
    ])
    stage(store, "certificates", [
        certificate(500, "customer1@example.com", link="javascript:alert(1)"),
        certificate(501, "bounced@example.com"),
        certificate(502, "customer2@example.com", amount="0"),
    ])


def _picture(store: Store, emulator: EmulatorServer, keys: dict[str, set[str]]
             ) -> dict[str, Any]:
    """What Dotdigital holds and what the ledger says, for the good records only (ids,
    times and run ids left out)."""
    good_emails = {f"customer{i}@example.com" for i in range(GOOD.customers)}
    contacts = {
        c["identifiers"]["email"]: (c["dataFields"], c["channelProperties"],
                                    c["identifiers"].get("mobileNumber"))
        for c in emulator.state.contacts() if c["identifiers"].get("email") in good_emails}
    records = {r["key"]: r["json"] for r in emulator.state.insight_records("Purchases")
               if r["key"] in keys["orders"]}
    sends = sorted(
        (tuple(s["toAddresses"]), tuple(sorted(s["personalizationValues"].items())))
        for s in emulator.state.sends()
        if s["personalizationValues"].get("CERTIFICATE_CODE", "").startswith("CODE")
        and int(s["personalizationValues"]["CERTIFICATE_CODE"][4:]) < GOOD.certificates)
    ledger = Ledger(store)
    rows = {e: {k: (r.state, r.payload_hash, r.error_code)
                for k, r in ledger.frame(e, sorted(ks)).set_index("key").iterrows()}
            for e, ks in keys.items()}
    return {"contacts": contacts, "records": records, "sends": sends, "ledger": rows}


@pytest.mark.parametrize("bulk", [False, True], ids=["single-calls", "bulk-imports"])
def test_rejected_records_change_nothing_else(bulk: bool, tmp_path: Path) -> None:
    keys = {
        "customers": {f"C{i}" for i in range(GOOD.customers)},
        "orders": {f"O{i}" for i in range(GOOD.orders)},
        "certificates": {f"G{i}" for i in range(GOOD.certificates)},
    }
    pictures = []
    for with_bad in (False, True):
        store = Store(f"sqlite:///{tmp_path / f'shop-{with_bad}.db'}")
        try:
            with EmulatorServer(emulator_config()) as emulator:
                stage_shop(store, GOOD, bad=False)
                if with_bad:
                    _bad_records(store)
                settings = settings_for(emulator, store.url)
                sync_once(store, settings, bulk_threshold=3 if bulk else 200)
                converge(store, settings, bulk_threshold=3 if bulk else 200)
                found = check_invariants(store, emulator)
                pictures.append(_picture(store, emulator, keys))
                if with_bad:
                    assert found.states["certificates"]["rejected"] >= 3
                    assert found.states["customers"]["rejected"] >= 3
        finally:
            store.dispose()
    without, beside = pictures
    assert beside["contacts"] == without["contacts"]
    assert beside["records"] == without["records"]
    assert beside["sends"] == without["sends"]
    assert beside["ledger"] == without["ledger"]


def _fail_in(step: str, emulator: EmulatorServer) -> Callable[[SyncEngine], None]:
    """Make ``engine.<step>`` die after doing part of its work (or before, for connect)."""

    # The scheduled sync's orders step sends through the orders step's ``send`` (the
    # chunks are pipelined through it); push_orders is the dry run's path.
    def target(engine: SyncEngine) -> Any:
        return engine.orders if step == "push_orders" else engine
    attribute = {"push_orders": "send"}.get(step, step)

    def arm(engine: SyncEngine) -> None:
        real = getattr(target(engine), attribute)
        def dying(*args: Any, **kwargs: Any) -> Any:
            if step == "send_certificates":  # credentials revoked half-way through
                emulator.state.config.password = "revoked-" + PASSWORD
                return real(*args, **kwargs)
            real(*args, **kwargs)
            raise RuntimeError(f"an unexpected error after {step}")
        setattr(target(engine), attribute, dying)

    return arm


@pytest.mark.parametrize("step", ["push_contacts", "push_orders", "send_confirmations",
                                  "send_certificates"])
def test_a_run_that_fails_midway_leaves_the_ledger_consistent(
    step: str, emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    """The run dies in (or right after) a step; what it wrote is true, what it did not
    finish is still to do; the next runs converge."""
    stage_shop(sqlite_store, ShopSize(customers=10, orders=20, certificates=9))
    settings = settings_for(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN)
    with make_client(settings) as client:
        engine = SyncEngine(sqlite_store, settings, client, options=sync_options())
        _fail_in(step, emulator)(engine)
        with pytest.raises(Exception):  # noqa: B017 - any failure will do
            run_sync(engine)
    emulator.state.config.password = PASSWORD
    check_consistent(sqlite_store, emulator).raise_if_any()
    converge(sqlite_store, settings)
    check_invariants(sqlite_store, emulator)


def test_a_run_that_cannot_start_changes_nothing(emulator: EmulatorServer,
                                                 sqlite_store: Store, sqlite_url: str) -> None:
    """A configuration error (the order campaign does not exist) fails the run before
    any write: no ledger row, no call that changes Dotdigital."""
    stage_shop(sqlite_store, ShopSize(customers=3, orders=3, certificates=2))
    settings = settings_for(emulator, sqlite_url, order_campaign="No such campaign")
    with make_client(settings) as client, pytest.raises(RunFailed, match="No such campaign"):
        run_sync(SyncEngine(sqlite_store, settings, client, options=sync_options()))
    assert all(not states for states in (Ledger(sqlite_store).states(e) for e in
                                         ("customers", "orders", "certificates", "contacts")))
    assert [c for c in emulator.state.calls() if c["method"] != "GET"] == []
