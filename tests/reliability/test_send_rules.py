"""Crash safety of the send rules: the "confirmations enabled" moment and the send cap.

The new state these rules write (the moment confirmations were first enabled, in
``dotsync_meta``) and the decision they take before any send (the cap) are killed
around with SIGKILL, then runs are allowed to finish: the guarantees of RELIABILITY.md
must hold, history must get no confirmation, and nothing is sent twice.
"""

from __future__ import annotations

from pathlib import Path

from dotsync.emulator import EmulatorServer
from dotsync.store import Store
from dotsync.sync.transactional import confirmations_enabled_at
from tests.e2e.helpers import sends_by_code
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import (
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

SIZE = ShopSize(customers=12, orders=24, certificates=8)


def _confirmations(emulator: EmulatorServer) -> int:
    return sum(1 for s in emulator.state.sends() if "ORDER_ID" in s["personalizationValues"])


def _killed(emulator: EmulatorServer, url: str, workdir: Path, failpoint: str,
            started: list[Job]) -> None:
    job = Job(["sync", *SYNC_ARGS], subprocess_env(emulator, url, order_campaign=ORDER_CAMPAIGN,
                                                   failpoint=failpoint), workdir)
    started.append(job.start())
    code = job.wait()
    assert code == -9, f"not killed at {failpoint} (exit {code}): {job.stderr[-1500:]}"


def test_killed_right_after_the_enable_moment_is_written(tmp_path: Path) -> None:
    """The first run with an order campaign writes the moment and dies: the next runs
    keep that moment, and the store's history (every staged order) gets no e-mail."""
    url = f"sqlite:///{tmp_path / 'enable.db'}"
    store = Store(url)
    try:
        stage_shop(store, SIZE, confirmations_enabled=None)
        with EmulatorServer(emulator_config()) as emulator, jobs() as started:
            _killed(emulator, url, tmp_path, "after_confirmations_enabled:1", started)
            moment = confirmations_enabled_at(store)
            assert moment is not None
            assert emulator.state.sends() == []
            check_consistent(store, emulator).raise_if_any()
            converge(store, settings_for(emulator, url, order_campaign=ORDER_CAMPAIGN))
            assert confirmations_enabled_at(store) == moment
            assert _confirmations(emulator) == 0
            check_invariants(store, emulator)
    finally:
        store.dispose()


def test_killed_right_after_the_send_cap_decision(tmp_path: Path) -> None:
    """Killed after the cap allowed the run and before its first send: nothing was
    sent; the next runs send every confirmation and certificate exactly once."""
    url = f"sqlite:///{tmp_path / 'cap.db'}"
    store = Store(url)
    try:
        stage_shop(store, SIZE)
        with EmulatorServer(emulator_config()) as emulator, jobs() as started:
            _killed(emulator, url, tmp_path, "after_send_cap:1", started)
            assert emulator.state.sends() == []
            check_consistent(store, emulator).raise_if_any()
            converge(store, settings_for(emulator, url, order_campaign=ORDER_CAMPAIGN))
            check_invariants(store, emulator, expect_confirmations=True).raise_if_any()
            assert _confirmations(emulator) > 0
            assert max(sends_by_code(emulator.state.sends()).values()) == 1
    finally:
        store.dispose()


def test_a_run_over_the_cap_sends_nothing_and_leaves_everything_owed(tmp_path: Path) -> None:
    """A run stopped by the cap writes no claim; an allowed run then sends each once."""
    url = f"sqlite:///{tmp_path / 'over.db'}"
    store = Store(url)
    try:
        stage_shop(store, SIZE)
        with EmulatorServer(emulator_config()) as emulator, jobs() as started:
            env = subprocess_env(emulator, url, order_campaign=ORDER_CAMPAIGN)
            env["DOTSYNC_MAX_SENDS_PER_RUN"] = "3"
            job = Job(["sync", *SYNC_ARGS], env, tmp_path)
            started.append(job.start())
            assert job.wait() == 1
            assert "--allow-sends" in job.stdout
            assert emulator.state.sends() == []
            check_consistent(store, emulator).raise_if_any()
            allowed = Job(["sync", *SYNC_ARGS, "--allow-sends", "1000"], env, tmp_path)
            started.append(allowed.start())
            assert allowed.wait() == 0, allowed.stderr[-1500:]
            converge(store, settings_for(emulator, url, order_campaign=ORDER_CAMPAIGN))
            check_invariants(store, emulator, expect_confirmations=True).raise_if_any()
            assert max(sends_by_code(emulator.state.sends()).values()) == 1
    finally:
        store.dispose()
