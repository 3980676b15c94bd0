"""Fault injection: runs against a misbehaving Dotdigital, then runs allowed to finish.

Every profile below is injected by the bundled emulator (seeded, so a failure can be
replayed): 5xx answers before the server acted, connections dropped before it acted,
connections dropped after it acted (the request took effect, the answer was lost),
imports ending ``Failed`` or ``RejectedByWatchdog``, latency spikes past the client's
timeout, and 429 storms. After each faulty run the ledger must be consistent with
Dotdigital (:func:`check_consistent`); after the faults stop and runs finish, every
guarantee must hold (:func:`check_invariants`).
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from tests.e2e.helpers import sends_by_code
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import (
    ORDER_CAMPAIGN,
    ShopSize,
    converge,
    settings_for,
    stage_shop,
    sync_once,
)
from tests.reliability.invariants import check_consistent, check_invariants

PROFILES: dict[str, dict[str, Any]] = {
    "5xx-20pct": {"error_rate": 0.2},
    "5xx-503-20pct": {"error_rate": 0.2, "error_status": 503},
    "drop-before-15pct": {"drop_rate": 0.15},
    "drop-after-15pct": {"drop_after_rate": 0.15},
    # The first import always fails, the rest by a seeded draw: how many imports a run
    # makes (and so where the draws fall) is the sync's business, not this test's.
    "imports-failed": {"fail_imports": 0.5, "fail_first_imports": 1,
                       "failed_import_status": "Failed"},
    "imports-rejected-by-watchdog": {"fail_imports": 0.5, "fail_first_imports": 1,
                                     "failed_import_status": "RejectedByWatchdog"},
    "everything-at-once": {"error_rate": 0.1, "drop_rate": 0.05, "drop_after_rate": 0.05,
                           "fail_imports": 0.25, "latency_jitter": 0.005},
}


def faulty_runs(store: Store, emulator: EmulatorServer, url: str, *, runs: int,
                **options: Any) -> None:
    """``runs`` syncs under the emulator's current faults, each followed by the
    any-moment consistency check."""
    settings = settings_for(emulator, url, order_campaign=ORDER_CAMPAIGN)
    for _ in range(runs):
        sync_once(store, settings, **options)
        check_consistent(store, emulator).raise_if_any()


def injected(emulator: EmulatorServer) -> int:
    """Faults the emulator injected: faulty calls plus imports it made fail."""
    calls = sum(1 for c in emulator.state.calls() if c["fault"])
    imports = sum(1 for i in emulator.state.imports()
                  if i["status"] in ("Failed", "RejectedByWatchdog"))
    return calls + imports


CASES = [(p, m) for p in PROFILES for m in ("single-calls", "bulk-imports")
         if m == "bulk-imports" or not p.startswith("imports")]


@pytest.mark.parametrize(("profile", "mode"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_faults_then_convergence_keep_every_guarantee(
    profile: str, mode: str, emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    """The issue's fault list, each in single-call and in bulk-import mode.

    Confirmations are sent (an order campaign is set) so that their exactly-once
    protocol is under fire too: each synced order's confirmation must end sent, in
    doubt or refused, never twice.
    """
    stage_shop(sqlite_store)
    bulk = mode == "bulk-imports"
    emulator.state.set_faults(random_seed=zlib.crc32(profile.encode()),
                              **PROFILES[profile])
    faulty_runs(sqlite_store, emulator, sqlite_url, runs=3,
                bulk_threshold=5 if bulk else 200)
    assert injected(emulator) > 0, "the profile injected nothing: the test tested nothing"

    emulator.state.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0,
                              fail_imports=0.0, latency_jitter=0.0)
    converge(sqlite_store, settings_for(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN))
    found = check_invariants(sqlite_store, emulator, expect_confirmations=True)
    # The shop's deliberate mistakes end as designed, whatever the faults did.
    assert found.waiting["orders"] == ["O900"]
    assert found.waiting["certificates"] == ["G900"]
    states = Ledger(sqlite_store).states("certificates")
    assert states["G901"] == "rejected"  # http:// link
    assert states["G902"] in ("rejected", "in_doubt")  # hard-bounced recipient


def test_faults_on_postgresql_converge_too(emulator: EmulatorServer, pg_url: str) -> None:
    """The mixed profile against a PostgreSQL ledger (its upserts and claims differ)."""
    store = Store(pg_url)
    try:
        stage_shop(store)
        emulator.state.set_faults(random_seed=5, **PROFILES["everything-at-once"])
        faulty_runs(store, emulator, pg_url, runs=3, bulk_threshold=5)
        emulator.state.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0,
                                  fail_imports=0.0, latency_jitter=0.0)
        converge(store, settings_for(emulator, pg_url, order_campaign=ORDER_CAMPAIGN))
        check_invariants(store, emulator)
    finally:
        store.dispose()


def test_latency_spikes_beyond_the_client_timeout(emulator: EmulatorServer,
                                                   sqlite_store: Store, sqlite_url: str) -> None:
    """Calls that take longer than the client waits: idempotent ones are retried, a send
    whose answer never came is in doubt (the emulator did act on it), never repeated."""
    stage_shop(sqlite_store, ShopSize(customers=12, orders=20, certificates=8))
    emulator.state.set_faults(latency_jitter=0.3, random_seed=7)
    settings = settings_for(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN)
    for _ in range(2):
        sync_once(sqlite_store, settings, bulk_threshold=4,
                  client_overrides={"timeout": 0.15})
        check_consistent(sqlite_store, emulator).raise_if_any()
    emulator.state.set_faults(latency_jitter=0.0)
    converge(sqlite_store, settings)
    check_invariants(sqlite_store, emulator)


def test_429_storms_fail_calls_and_the_next_runs_converge(sqlite_store: Store,
                                                          sqlite_url: str) -> None:
    """A rate limit of 5 calls per 0.3 s and a client that does not wait for the reset:
    nearly every other call is answered 429, contacts, orders, imports and sends alike
    (a run may even fail at its first call). Each faulty run leaves the ledger
    consistent; once the limit lifts, runs converge and nothing was sent twice. (Waiting
    a 429 out is tests/e2e ``test_rate_limits_are_waited_out``.)"""
    from dotsync.dotdigital.errors import RateLimitedError

    config = emulator_config(rate_limit_per_minute=5, rate_limit_window=0.3)
    with EmulatorServer(config) as limited:
        stage_shop(sqlite_store, ShopSize(customers=10, orders=16, certificates=6))
        settings = settings_for(limited, sqlite_url, order_campaign=ORDER_CAMPAIGN)
        failed_runs = 0
        for bulk_threshold in (200, 4, 200, 4):
            try:
                sync_once(sqlite_store, settings, bulk_threshold=bulk_threshold,
                          client_overrides={"max_rate_limit_wait": 0.0, "max_retries": 1})
            except RateLimitedError:
                failed_runs += 1  # refused at its first call: a failed run, nothing sent
            check_consistent(sqlite_store, limited).raise_if_any()
            time.sleep(0.35)  # a fresh window: the next run's first calls get through
        storm = sum(c["status"] == 429 for c in limited.state.calls())
        assert storm >= 10, f"only {storm} answers were 429"
        assert failed_runs == 0
        limited.state.config.rate_limit_per_minute = None  # the storm is over
        converge(sqlite_store, settings)
        check_invariants(sqlite_store, limited)
        assert max(sends_by_code(limited.state.sends()).values()) == 1


def test_a_dropped_send_answer_leaves_the_whole_batch_in_doubt_and_unrepeated(
    emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    """drop_after on a batch send: Dotdigital sent them all, dotsync cannot know; the
    batch is in doubt, listed by status(), and no later run sends any of it again."""
    from dotsync.store.status import status

    stage_shop(sqlite_store, ShopSize(customers=8, orders=0, certificates=8), bad=False)
    emulator.state.faults.script.append(
        {"kind": "drop_after", "path": "/v2/email/triggered-campaign/batch", "method": "POST"})
    settings = settings_for(emulator, sqlite_url)
    report = sync_once(sqlite_store, settings)
    assert report.counts["certificates"].in_doubt == 4  # one batch of send_batch_size
    converge(sqlite_store, settings)
    found = check_invariants(sqlite_store, emulator)
    assert found.states["certificates"] == {"synced": 4, "in_doubt": 4}
    assert len(status(sqlite_store)["in_doubt"]) == 4
    assert sorted(sends_by_code(emulator.state.sends()).values()) == [1] * 8


def test_an_order_confirmation_refused_with_a_5xx_is_sent_by_a_later_run(
    emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    stage_shop(sqlite_store, ShopSize(customers=4, orders=4, certificates=0), bad=False)
    emulator.state.faults.script.append(
        {"kind": "error", "path": "/v2/email/triggered-campaign", "method": "POST"})
    settings = settings_for(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN)
    sync_once(sqlite_store, settings)
    converge(sqlite_store, settings)
    check_invariants(sqlite_store, emulator, expect_confirmations=True)
