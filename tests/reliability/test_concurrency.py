"""Guarantee 6: two runs at once (two schedules, a manual run during a scheduled one,
a backfill beside a sync) neither double-send nor corrupt the ledger.

Real processes (``python -m dotsync.sync.run``) against one SQLite file and one
PostgreSQL schema, and threads where a test needs to choose the interleaving. The
exactly-once claim (a compare-and-set to ``in_doubt``) is what must hold them apart.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from dotsync.emulator import EmulatorServer
from dotsync.store import Store
from dotsync.sync.engine import SyncEngine
from dotsync.sync.report import RunReport
from dotsync.sync.run import run_sync
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage
from tests.reliability.harness import (
    BACKFILL_ARGS,
    ORDER_CAMPAIGN,
    SYNC_ARGS,
    Job,
    ShopSize,
    backfill_once,
    converge,
    jobs,
    make_client,
    settings_for,
    stage_shop,
    subprocess_env,
    sync_options,
)
from tests.reliability.invariants import check_consistent, check_invariants


def _report(job: Job) -> dict[str, Any]:
    lines = [line for line in job.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report from {job.args}: {job.stderr[-2000:]}"
    return json.loads(lines[-1])


def _overlapped(a: dict[str, Any], b: dict[str, Any]) -> bool:
    start_a, end_a = (datetime.fromisoformat(a[k]) for k in ("started_at", "finished_at"))
    start_b, end_b = (datetime.fromisoformat(b[k]) for k in ("started_at", "finished_at"))
    return start_a < end_b and start_b < end_a


def _race(emulator: EmulatorServer, url: str, workdir: Path, *argsets: list[str]
          ) -> list[dict[str, Any]]:
    """Start one process per argument list at once; wait for all; return their reports."""
    env = subprocess_env(emulator, url, order_campaign=ORDER_CAMPAIGN)
    with jobs() as started:
        for args in argsets:
            started.append(Job(args, env, workdir).start())
        for job in started:
            assert job.wait() == 0, job.stderr[-3000:]
        return [_report(job) for job in started]


def test_two_scheduled_syncs_started_together(emulator: EmulatorServer, store: Store,
                                              store_url: str, tmp_path: Path) -> None:
    """Two schedules firing at once, twice: every certificate and confirmation goes out
    exactly once between them, and the ledger stays true."""
    emulator.state.set_faults(latency=0.004)
    stage_shop(store, ShopSize(customers=30, orders=60, certificates=40))
    sync = ["sync", *SYNC_ARGS, "--send-batch-size", "2"]
    first = _race(emulator, store_url, tmp_path, sync, sync)
    assert _overlapped(*first), "the two runs did not overlap: nothing was tested"
    check_consistent(store, emulator).raise_if_any()

    # New records arrive; both schedules fire again (one in bulk mode this time).
    stage(store, "orders", [order(100 + i, f"customer{i}@example.com") for i in range(30)])
    stage(store, "certificates", [certificate(100 + i, f"customer{i}@example.com")
                                  for i in range(30)])
    second = _race(emulator, store_url, tmp_path, sync, [*sync, "--bulk-threshold", "5"])
    assert _overlapped(*second)
    sent = sum(r["certificates"]["sent"] for r in first + second)
    assert sent == sum(1 for s in emulator.state.sends()
                       if "CERTIFICATE_CODE" in s["personalizationValues"])
    converge(store, settings_for(emulator, store_url, order_campaign=ORDER_CAMPAIGN))
    check_invariants(store, emulator)
    assert max(sends_by_code(emulator.state.sends()).values()) == 1


def test_a_backfill_beside_a_sync(emulator: EmulatorServer, store: Store, store_url: str,
                                  tmp_path: Path) -> None:
    """A backfill (with certificates) started while a sync runs: imports and single calls
    interleave, both claim the same certificates; each is sent once."""
    emulator.state.set_faults(latency=0.004)
    stage_shop(store, ShopSize(customers=30, orders=60, certificates=30))
    reports = _race(emulator, store_url, tmp_path, ["sync", *SYNC_ARGS, "--send-batch-size", "1"],
                    ["backfill", *BACKFILL_ARGS, "--send-batch-size", "1"])
    assert _overlapped(*reports)
    check_consistent(store, emulator).raise_if_any()
    converge(store, settings_for(emulator, store_url, order_campaign=ORDER_CAMPAIGN))
    check_invariants(store, emulator)


def _threads(*targets: Any) -> list[BaseException]:
    """Run ``targets`` in threads released together by a barrier; return their errors."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target: Any) -> None:
        try:
            barrier.wait(timeout=30)
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return errors


def test_a_manual_certificates_run_during_a_scheduled_sync(emulator: EmulatorServer,
                                                           store: Store, store_url: str) -> None:
    """`dotsync sync --entities certificates` while the scheduled full sync runs (two
    engines, two connection pools, one ledger): one send per certificate."""
    stage_shop(store, ShopSize(customers=20, orders=20, certificates=40))
    settings = settings_for(emulator, store_url, order_campaign=ORDER_CAMPAIGN)
    reports: list[RunReport] = []

    def scheduled() -> None:
        own = Store(store_url)
        try:
            with make_client(settings) as client:
                engine = SyncEngine(own, settings, client, options=sync_options(
                    send_batch_size=1))
                reports.append(run_sync(engine))
        finally:
            own.dispose()

    def manual() -> None:
        own = Store(store_url)
        try:
            for _ in range(3):  # the operator presses the button a few times
                with make_client(settings) as client:
                    engine = SyncEngine(own, settings, client, options=sync_options(
                        send_batch_size=1))
                    reports.append(run_sync(engine, ("certificates",)))
        finally:
            own.dispose()

    errors = _threads(scheduled, manual)
    assert not errors, errors
    check_consistent(store, emulator).raise_if_any()
    converge(store, settings)
    check_invariants(store, emulator)
    sent = sum(r.counts["certificates"].sent for r in reports)
    assert sent == sum(1 for s in emulator.state.sends()
                       if "CERTIFICATE_CODE" in s["personalizationValues"])


def test_two_backfills_at_once(emulator: EmulatorServer, store: Store,
                               store_url: str) -> None:
    """Two backfills (e.g. an operator re-running one that seemed stuck) racing through
    the same staged rows and claiming the same certificates.

    Their imports compete for the account's 5 insight-import slots; a submission refused
    with 429 is left to the backfill's own "retry after the next poll" rather than the
    client's 30 s wait for a 429 without a reset time.
    """
    stage_shop(store, ShopSize(customers=30, orders=60, certificates=24))
    settings = settings_for(emulator, store_url)
    quick = {"max_rate_limit_wait": 0.5}

    def backfill() -> None:
        own = Store(store_url)
        try:
            backfill_once(own, settings, send_batch_size=1, client_overrides=quick)
        finally:
            own.dispose()

    errors = _threads(backfill, backfill)
    assert not errors, errors
    check_consistent(store, emulator).raise_if_any()
    converge(store, settings, job="backfill")
    check_invariants(store, emulator)


class _HoldFirstContactWrite(httpx.HTTPTransport):
    """A transport for one run's client: its first contact upsert hangs until told to
    go on, then gets a 503 (a slow, failing call: the back-off of a 5xx storm)."""

    def __init__(self, holding: threading.Event, release: threading.Event) -> None:
        super().__init__()
        self.holding, self.release = holding, release
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (not self.done and request.method == "PATCH"
                and request.url.path.startswith("/contacts/v3/")):
            self.done = True
            self.holding.set()
            self.release.wait(timeout=60)
            return httpx.Response(503, json={"errorCode": "contacts:unavailable",
                                             "description": "Service unavailable"})
        return super().handle_request(request)


def test_a_slow_failing_run_never_reopens_a_certificate_another_run_sent(
    emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    """Run B reads the new customer and certificate, then its contact upsert hangs (and
    ends 503) while run A syncs the contact and sends the certificate."""
    stage(sqlite_store, "customers", [customer(1)])
    stage(sqlite_store, "certificates", [certificate(1, "customer1@example.com")])
    settings = settings_for(emulator, sqlite_url)
    holding, release = threading.Event(), threading.Event()
    transport = _HoldFirstContactWrite(holding, release)

    def slow_run() -> None:
        own = Store(sqlite_url)
        try:
            with make_client(settings, transport=transport, max_retries=0) as client:
                run_sync(SyncEngine(own, settings, client, options=sync_options()))
        finally:
            own.dispose()

    errors: list[BaseException] = []
    b = threading.Thread(target=lambda: errors.extend(_catch(slow_run)))
    b.start()
    try:
        assert holding.wait(timeout=30)
        with make_client(settings) as client:  # run A, start to finish
            run_sync(SyncEngine(sqlite_store, settings, client, options=sync_options()))
    finally:
        release.set()
        b.join(timeout=60)
    assert not errors, errors
    converge(sqlite_store, settings)
    check_invariants(sqlite_store, emulator)


def _catch(fn: Any) -> list[BaseException]:
    try:
        fn()
    except BaseException as exc:
        return [exc]
    return []
