"""Crash safety: the sync and the backfill killed with SIGKILL, then run again.

Each moment runs ``python -m dotsync.sync.run sync|backfill`` in a subprocess against
the emulator running in this process (so Dotdigital "survives" the crash) and kills it:

* at a named failpoint (``DOTSYNC_FAILPOINT=name:n``): after a claim was committed and
  before its send, between a send and its ledger write, with an import running and
  nothing of it recorded, after an import's report was read and before its outcomes
  were written, right after a batch of outcomes was committed;
* or after a seeded random delay from the run's first API call, with emulator latency
  so the run is still going when the signal comes.

Some moments kill twice (the first re-run dies too). After each kill the ledger must
be consistent with Dotdigital (:func:`check_consistent`); after runs allowed to finish,
every guarantee must hold (:func:`check_invariants`).

By default a seeded subset of the moments runs; ``DOTSYNC_TEST_ALL=1`` runs them all.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Store
from tests.reliability.conftest import emulator_config, seeded_subset
from tests.reliability.harness import (
    BACKFILL_ARGS,
    ORDER_CAMPAIGN,
    SYNC_ARGS,
    Job,
    ShopSize,
    converge,
    jobs,
    settings_for,
    stage_shop,
    subprocess_env,
)
from tests.reliability.invariants import check_consistent, check_invariants


@dataclass(frozen=True)
class Moment:
    """Where to kill: ``kills`` are failpoints (``name:n``) or ``random:<seed>``, one per
    run that dies; ``bulk`` makes the sync use imports (the backfill always does)."""

    job: str
    kills: tuple[str, ...]
    bulk: bool = False
    #: Small chunks and small imports: a sync with several order imports in flight.
    pipelined: bool = False

    @property
    def id(self) -> str:
        mode = "-bulk" if self.bulk and self.job == "sync" else ""
        mode += "-pipelined" if self.pipelined else ""
        return f"{self.job}{mode}-" + "+".join(k.replace(":", "") for k in self.kills)


SYNC = [Moment("sync", (k,)) for k in (
    "after_settle:1", "after_settle:25", "after_settle:49",     # orders, one call each
    "after_claim:1", "after_claim:8", "after_claim:14",          # intent committed, no send
    "after_send:1", "after_send:7", "after_send:14",             # sent, outcome unrecorded
    "after_change_read:1", "after_change_read:2",                # changes read, not processed
    "before_mark:1", "before_mark:2", "before_mark:3",           # step done, mark not moved
    "after_mark:1", "after_mark:2",                              # mark moved, next step not
    "after_warnings:1", "after_warnings:3",                      # warnings written, nothing sent
)] + [Moment("sync", (k,), bulk=True) for k in (
    "after_import_submit:1", "after_import_submit:2",            # contacts / orders import
    "after_import_report:1", "after_import_report:2",
    "after_settle:1", "after_send:2", "before_mark:2",
)]
BACKFILL = [Moment("backfill", (k,)) for k in (
    "after_import_submit:1", "after_import_submit:4", "after_import_submit:8",
    "after_import_report:1", "after_import_report:5", "after_import_report:8",
    "after_settle:1", "after_settle:5",
    "after_claim:1", "after_send:1", "after_send:3",
    "before_mark:1", "after_mark:2",
    "after_warnings:2",
)]
TWICE = [
    Moment("sync", ("after_send:1", "after_claim:1")),
    Moment("sync", ("after_import_submit:2", "after_send:1"), bulk=True),
    Moment("backfill", ("after_import_report:2", "after_import_submit:3")),
]
RANDOM = ([Moment("sync", (f"random:{s}",), bulk=s % 2 == 1) for s in range(8)]
          + [Moment("backfill", (f"random:{s}",)) for s in range(6)])
MOMENTS = SYNC + BACKFILL + TWICE + RANDOM
#: Always in the default run: the issue's named moments, one of each kind.
CORE = {"sync-after_send1", "sync-bulk-after_import_submit2", "backfill-after_send1",
        "backfill-after_import_submit4", "sync-random0", "backfill-random0",
        "sync-before_mark2", "sync-after_change_read1", "backfill-before_mark1",
        "sync-after_warnings3"}
SIZE = ShopSize(customers=24, orders=48, certificates=12)


def _kill_at_random(job: Job, emulator: EmulatorServer, seed: int) -> None:
    """SIGKILL ``job`` a seeded random time after its first API call."""
    before = len(emulator.state.calls())
    deadline = time.monotonic() + 30
    while len(emulator.state.calls()) == before and job.running:
        if time.monotonic() > deadline:
            raise AssertionError("the run made no API call within 30 s")
        time.sleep(0.005)
    time.sleep(random.Random(seed).uniform(0.0, 1.2))
    job.kill()


def _emulator_for(moment: Moment) -> EmulatorServer:
    """Random kills need runs that last: latency on every call, slower imports."""
    if any(k.startswith("random:") for k in moment.kills):
        return EmulatorServer(emulator_config(latency=0.012, import_delay=0.12,
                                              random_seed=3))
    return EmulatorServer(emulator_config())


def _args(moment: Moment) -> list[str]:
    if moment.job == "backfill":
        return ["backfill", *BACKFILL_ARGS]
    pipelined = ["--chunk-rows", "8", "--import-max-bytes", "3000"] if moment.pipelined else []
    return ["sync", *SYNC_ARGS, "--bulk-threshold", "5" if moment.bulk else "200", *pipelined]


def crash_and_recover(moment: Moment, workdir: Path, *,
                      expect_confirmations: bool = False) -> None:
    """Kill the moment's runs, check consistency after each kill, then converge and
    check every guarantee."""
    url = f"sqlite:///{workdir / 'crash.db'}"
    store = Store(url)
    try:
        stage_shop(store, SIZE)
        with _emulator_for(moment) as emulator, jobs() as started:
            campaign = ORDER_CAMPAIGN if moment.job == "sync" else None
            for kill in moment.kills:
                failpoint = None if kill.startswith("random:") else kill
                job = Job(_args(moment), subprocess_env(emulator, url, order_campaign=campaign,
                                                         failpoint=failpoint), workdir)
                started.append(job.start())
                if failpoint is None:
                    _kill_at_random(job, emulator, int(kill.split(":")[1]))
                code = job.wait()
                assert code == -9, (f"{moment.id}: the run was not killed (exit {code}); "
                                    f"the moment was never reached: {job.stderr[-1500:]}")
                check_consistent(store, emulator).raise_if_any()
            emulator.state.set_faults(latency=0.0)
            settings = settings_for(emulator, url, order_campaign=campaign)
            if moment.job == "backfill":
                converge(store, settings, job="backfill")
            else:
                converge(store, settings, bulk_threshold=5 if moment.bulk else 200)
            check_invariants(store, emulator,
                             expect_confirmations=expect_confirmations or campaign is not None)
    finally:
        store.dispose()


@pytest.mark.parametrize("moment", seeded_subset(
    MOMENTS, keep=10, seed=20261125, ids=[m.id for m in MOMENTS],
    always=[i for i, m in enumerate(MOMENTS) if m.id in CORE]))
def test_killed_runs_then_reruns_keep_every_guarantee(moment: Moment, tmp_path: Path) -> None:
    """Guarantees 1-3 after SIGKILL at each moment; no duplicate certificate or order
    confirmation, whatever the moment (the test below covers the moment between an
    order and its confirmation)."""
    crash_and_recover(moment, tmp_path)


def test_there_are_at_least_25_moments_over_both_flows() -> None:
    """The issue asks for at least 25 seeded kill moments across the sync and backfill,
    including mid-import and between a send and its ledger write."""
    assert len(MOMENTS) >= 25
    assert {m.job for m in MOMENTS} == {"sync", "backfill"}
    kills = {k.split(":")[0] for m in MOMENTS for k in m.kills}
    assert {"after_send", "after_import_submit", "after_import_report", "random"} <= kills
    assert len({m.id for m in MOMENTS}) == len(MOMENTS)


@pytest.mark.parametrize("kill", ["after_settle:1", "after_send:1"])
def test_a_crash_after_an_order_is_settled_keeps_its_confirmation(kill: str,
                                                                  tmp_path: Path) -> None:
    crash_and_recover(Moment("sync", (kill,)), tmp_path, expect_confirmations=True)


@pytest.mark.parametrize("kill", ["after_import_submit:6", "after_import_report:6"])
def test_a_crash_with_order_imports_in_flight_recovers(kill: str, tmp_path: Path) -> None:
    """The sync's chunks of orders are pipelined (3 contact imports, then 7 insight
    imports, up to 5 in flight): killed after the third order import was submitted, or
    after its report was read while later ones run, the reruns settle every order once,
    with no second record and no second confirmation."""
    crash_and_recover(Moment("sync", (kill,), bulk=True, pipelined=True), tmp_path,
                      expect_confirmations=True)


def test_a_crash_right_after_a_new_accounts_collection_is_created(tmp_path: Path) -> None:
    """The emulator starts as a new account (no insight collection): the first small sync
    creates the collection, is killed before any record goes in, and the reruns find the
    collection there (``POST`` answers 200) and settle every order."""
    crash_and_recover(Moment("sync", ("after_collection_created:1",)), tmp_path)
