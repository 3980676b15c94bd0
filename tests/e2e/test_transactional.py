"""Transactional e-mails only where they belong, end to end (SPEC §2, README).

From an empty account (no collections, no suppressions, default data fields only).
Dates are relative to the real clock with wide margins (days), except "placed after
confirmations were enabled", which the test orders itself: the new orders are staged
after the first run has written the moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger
from dotsync.sync.transactional import confirmations_enabled_at
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage, states

pytestmark = pytest.mark.e2e

EMPTY_ACCOUNT = {"collections": [], "suppressed": [],
                 "dataFields": ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"]}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.02, random_seed=1,
                                       seed=EMPTY_ACCOUNT)) as server:
        yield server


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(now: datetime, n: int) -> list[dict]:
    """Two years of orders, the newest an hour old, one in ten cancelled."""
    rows = []
    for i in range(n):
        placed = now - timedelta(hours=1) - (timedelta(days=730) * i / n)
        status = "Cancelled" if i % 10 == 3 else "complete"
        rows.append(order(i, f"customer{i % 20}@example.com", status=status,
                          placed_at=_iso(placed), updated_at=_iso(placed)))
    return rows


def test_first_sync_of_a_store_with_history_sends_no_confirmation_then_one_per_new_order(
        env, monkeypatch) -> None:
    monkeypatch.setenv("DOTSYNC_ORDER_CAMPAIGN", "Order confirmation")
    now = datetime.now(UTC)
    stage(env.store, "customers", [customer(i) for i in range(20)])
    stage(env.store, "orders", _history(now, 300))
    state = env.sync()
    assert state.is_completed(), state.message
    report = state.result()
    assert env.emulator.state.sends() == []
    assert len(env.emulator.state.insight_records("Purchases")) == 300
    # Every order was owed nothing: counted as skipped, by reason, and owed no more.
    assert report["confirmations"]["sent"] == 0
    assert report["confirmations"]["skipped"] == 300
    assert report["confirmations"]["skipped_because"] == {
        "placed before confirmations were enabled": 270,
        "status in DOTSYNC_NO_CONFIRMATION_STATUSES": 30}
    assert states(env.store, "confirmations") == {}
    enabled = confirmations_enabled_at(env.store)
    assert enabled is not None and enabled >= now

    # Afterwards: one confirmation for each new order, none for a new cancelled one.
    placed = datetime.now(UTC).isoformat()  # microseconds: after the moment, not future
    stage(env.store, "orders", [
        order(1001, "customer1@example.com", placed_at=placed, updated_at=placed),
        order(1002, "guest@example.com", placed_at=placed, updated_at=placed),
        order(1003, "customer3@example.com", status="canceled", placed_at=placed,
              updated_at=placed),
    ])
    state = env.sync()
    assert state.is_completed(), state.message
    assert sends_by_code(env.emulator.state.sends()) == {"O1001": 1, "O1002": 1}
    assert state.result()["confirmations"]["skipped"] == 1
    assert env.sync().is_completed()
    assert sends_by_code(env.emulator.state.sends()) == {"O1001": 1, "O1002": 1}
    assert states(env.store, "confirmations") == {"O1001": "synced", "O1002": "synced"}


def test_an_old_owed_confirmation_ages_out_instead_of_going_late(env, monkeypatch) -> None:
    monkeypatch.setenv("DOTSYNC_ORDER_CAMPAIGN", "Order confirmation")
    monkeypatch.setenv("DOTSYNC_CONFIRMATION_MAX_AGE", "3d")
    from dotsync.sync.transactional import enable_confirmations

    now = datetime.now(UTC)
    enable_confirmations(env.store, now - timedelta(days=30))
    stage(env.store, "customers", [customer(1)])
    stage(env.store, "orders", [
        order(1, "customer1@example.com", placed_at=_iso(now - timedelta(days=4))),
        order(2, "customer1@example.com", placed_at=_iso(now - timedelta(days=2))),
    ])
    state = env.sync(bulk_threshold=0)
    assert state.is_completed(), state.message
    assert sends_by_code(env.emulator.state.sends()) == {"O2": 1}
    assert state.result()["confirmations"]["skipped_because"] == {
        "placed before DOTSYNC_CONFIRMATION_MAX_AGE": 1}


def test_expired_certificates_are_not_sent(env) -> None:
    now = datetime.now(UTC)
    stage(env.store, "certificates", [
        certificate(1, "gift@example.com", expires_at=_iso(now - timedelta(days=1))),
        certificate(2, "gift@example.com", expires_at=_iso(now + timedelta(days=300))),
        certificate(3, "gift@example.com"),
    ])
    state = env.sync()
    assert state.is_completed(), state.message
    assert sends_by_code(env.emulator.state.sends()) == {"CODE2": 1, "CODE3": 1}
    report = state.result()
    assert report["certificates"]["skipped"] == 1
    assert report["certificates"]["skipped_because"] == {"certificate expired": 1}
    row = Ledger(env.store).frame("certificates", ["G1"]).iloc[0]
    assert (row["state"], row["error_code"], row["error_field"]) == (
        "rejected", "expired", "expires_at")
    # A later run leaves it alone; a new expiry date makes it go.
    assert env.sync().is_completed()
    stage(env.store, "certificates", [certificate(1, "gift@example.com",
                                                  expires_at=_iso(now + timedelta(days=30)),
                                                  updated_at=_iso(now))])
    assert env.sync().is_completed()
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1, "CODE2": 1, "CODE3": 1}


def test_a_run_over_the_send_cap_sends_none_until_allowed(env) -> None:
    """6,000 certificates against the default cap of 5,000."""
    stage(env.store, "certificates", [certificate(i, f"r{i}@example.com")
                                      for i in range(6000)])
    state = env.sync(send_batch_size=1000)
    assert state.is_failed()
    assert "would send 6000 transactional e-mails" in state.message
    assert "--allow-sends 6000" in state.message and "allow_sends" in state.message
    assert env.emulator.state.sends() == []
    assert not any(c["path"].startswith("/v2/email/triggered-campaign")
                   for c in env.emulator.state.calls())
    assert set(states(env.store, "certificates").values()) <= {"pending"}

    dry = env.sync(dry_run=True)
    assert dry.is_completed()
    notes = " ".join(dry.result()["notes"])
    assert "the next run would send 0 order confirmations and 6000 certificates" in notes

    assert env.sync(send_batch_size=1000, allow_sends=5999).is_failed()
    assert env.emulator.state.sends() == []
    state = env.sync(send_batch_size=1000, allow_sends=6000)
    assert state.is_completed(), state.message
    assert len(env.emulator.state.sends()) == 6000
    assert max(sends_by_code(env.emulator.state.sends()).values()) == 1
    assert env.sync().is_completed()  # nothing left to send: the cap has nothing to stop
    assert len(env.emulator.state.sends()) == 6000


def test_a_backfill_with_certificates_keeps_the_cap(env, monkeypatch) -> None:
    from dotsync.flows.backfill import backfill

    monkeypatch.setenv("DOTSYNC_MAX_SENDS_PER_RUN", "3")
    now = datetime.now(UTC)
    stage(env.store, "certificates", [certificate(i, f"r{i}@example.com") for i in range(5)]
          + [certificate(9, "late@example.com", expires_at=_iso(now - timedelta(days=1)))])
    run = backfill.with_options(retries=0)
    state = run(include_certificates=True, poll_interval=0.02, return_state=True)
    assert state.is_failed()
    assert "would send 5 transactional e-mails" in state.message
    assert "dotsync backfill --include-certificates --allow-sends 5" in state.message
    assert env.emulator.state.sends() == []
    state = run(include_certificates=True, poll_interval=0.02, allow_sends=5,
                return_state=True)
    assert state.is_completed(), state.message
    assert sends_by_code(env.emulator.state.sends()) == {f"CODE{i}": 1 for i in range(5)}
