"""--assume-sent-before: what is marked as sent, and what is left alone."""

from __future__ import annotations

import pytest

from dotsync.store import Ledger
from dotsync.sync.assume_sent import assume_sent_before, parse_cutoff
from tests.e2e.helpers import certificate, order, stage

CUTOFF = parse_cutoff("2026-10-10")


def test_old_certificates_and_confirmations_are_marked_new_ones_are_not(store):
    stage(store, "certificates", [
        certificate(1, "a@example.com", updated_at="2026-10-01T00:00:00Z"),
        certificate(2, "b@example.com", updated_at="2026-10-20T00:00:00Z"),
        certificate(3, "c@example.com", updated_at="not a date"),
        certificate(4, "d@example.com", updated_at="2026-10-09T23:00:00-02:00"),  # 10th UTC
    ])
    stage(store, "orders", [
        order(1, "a@example.com", placed_at="2026-10-01T00:00:00Z",
              updated_at="2026-10-15T00:00:00Z"),
        order(2, "b@example.com", placed_at="2026-10-11T00:00:00Z",
              updated_at="2026-10-11T00:00:00Z"),
    ])
    done = assume_sent_before(store, CUTOFF)
    assert (done.certificates, done.confirmations) == (1, 1)
    ledger = Ledger(store)
    assert ledger.states("certificates") == {"G1": "synced"}
    assert ledger.states("confirmations") == {"O1": "synced"}
    row = ledger.frame("certificates").iloc[0]
    assert "assumed sent before 2026-10-10T00:00:00+00:00" in row["detail"]
    assert row["sent_at"] is None and row["source_hash"]


def test_sends_already_recorded_or_in_doubt_are_left_alone(store):
    stage(store, "certificates", [certificate(i, "a@example.com",
                                              updated_at="2026-10-01T00:00:00Z")
                                  for i in (1, 2, 3)])
    ledger = Ledger(store)
    ledger.record("certificates", [
        {"key": "G1", "state": "in_doubt", "error_message": "send started"},
        {"key": "G2", "state": "synced", "detail": None, "error_message": None}])
    assert assume_sent_before(store, CUTOFF).certificates == 1
    states = ledger.frame("certificates").set_index("key")
    assert states.loc["G1", "state"] == "in_doubt"
    assert states.loc["G2", "detail"] is None
    assert states.loc["G3", "state"] == "synced"


def test_a_dry_run_counts_and_writes_nothing(store):
    stage(store, "certificates", [certificate(1, "a@example.com",
                                              updated_at="2026-10-01T00:00:00Z")])
    assert assume_sent_before(store, CUTOFF, dry_run=True).certificates == 1
    assert Ledger(store).states("certificates") == {}


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01"])
def test_an_unreadable_date_is_refused(text):
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        parse_cutoff(text)
