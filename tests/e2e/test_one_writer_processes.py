"""One writer per account's ledger across processes (issue 17): ``sync``, ``backfill``
and ``replay`` of one account started together, each in a process of its own (as
separate workers would run them), take turns on the ledger; a sync of another account
runs meanwhile. Each account's store is SQLite (the lock is a ``flock``) or, with
``DOTSYNC_TEST_POSTGRES_URL``, a PostgreSQL database of its own (an advisory lock).

No timing decides the verdict. Each process traces the real lock
(:mod:`tests.e2e.writer_trace`): ``acquire`` written after the lock is taken,
``release`` before it is given back, and every holder of account ``one`` stops after
taking it until the test opens its gate. The test opens a holder's gate only once every
other live process of the account is seen waiting for the lock, so every hand-over is
contended; with a lock that let two in, the trace would show two holders at once.
Account ``two``'s sync must start and finish while account ``one``'s first holder is
still stopped holding its own ledger: they ran in parallel.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.emulator.structure import seed_with_fields
from dotsync.samples import DATA_FIELDS, generate
from dotsync.store import Ledger, Store, load_file
from tests.e2e.helpers import sends_by_code
from tests.e2e.writer_trace import GATE_ENV, TRACE_ENV, read_trace
from tests.reliability.invariants import check_invariants

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
#: Generous: four Python processes starting Prefect on a busy two-core machine.
TIMEOUT = 600.0
GATED = ("one-sync", "one-backfill", "one-replay")


def _environ(api_url: str, home: Path, toml: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "DOTSYNC_", "DOTDIGITAL_"))}
    return {**env, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DOTSYNC_CONFIG": str(toml),
            "DOTSYNC_PROGRESS": "0", "PYTHONPATH": str(REPO)}


class Runs:
    """The processes of the test, their logs, and the trace they write."""

    def __init__(self, folder: Path, api_url: str, toml: Path) -> None:
        self.folder = folder
        self.api_url = api_url
        self.toml = toml
        self.trace = folder / "trace.jsonl"
        self.gates = folder / "gates"
        self.gates.mkdir()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, label: str, args: list[str], *, gated: bool) -> None:
        env = {**_environ(self.api_url, self.folder / f"home-{label}", self.toml),
               TRACE_ENV: str(self.trace)}
        if gated:
            env[GATE_ENV] = str(self.gates)
        with (self.folder / f"{label}.log").open("wb") as log:
            self.procs[label] = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.writer_trace", label, *args], env=env,
                cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    def log(self, label: str) -> str:
        return (self.folder / f"{label}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {label}\n{self.log(label)[-3000:]}" for label in self.procs)

    def events(self) -> list[dict[str, Any]]:
        return read_trace(self.trace)

    def open_gate(self, label: str, n: int) -> None:
        (self.gates / f"{label}.{n}").touch()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)

    def check(self, what: str) -> None:
        """Fail at once, with every log, if a process has failed."""
        for label, proc in self.procs.items():
            if proc.poll() not in (None, 0):
                pytest.fail(f"{what}: {label} exited {proc.returncode}\n{self.logs()}")

    def wait_for(self, check: Any, what: str) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            self.check(what)
            time.sleep(0.1)
        pytest.fail(f"{what}: not within {TIMEOUT:.0f} s\n{self.logs()}")


def _holders(events: list[dict[str, Any]], labels: tuple[str, ...]) -> list[tuple[str, int]]:
    """The (label, n) acquisitions of ``labels`` not released yet."""
    held: dict[tuple[str, int], bool] = {}
    for e in events:
        if e["label"] in labels and e["event"] == "acquire":
            held[(e["label"], e["n"])] = True
        elif e["label"] in labels and e["event"] == "release":
            held.pop((e["label"], e["n"]), None)
    return list(held)


def _intervals(events: list[dict[str, Any]], labels: tuple[str, ...]
               ) -> list[tuple[str, int, int, int]]:
    """(label, n, acquired ns, released ns) of every finished holding, by start."""
    start: dict[tuple[str, int], int] = {}
    out = []
    for e in events:
        if e["label"] not in labels:
            continue
        if e["event"] == "acquire":
            start[(e["label"], e["n"])] = e["ns"]
        elif e["event"] == "release":
            out.append((e["label"], e["n"], start.pop((e["label"], e["n"])), e["ns"]))
    return sorted(out, key=lambda i: i[2])


def _one_holder(runs: Runs) -> list[tuple[str, int]]:
    """Account one's holders now: none or one, else the test fails at once."""
    holders = _holders(runs.events(), GATED)
    assert len(holders) <= 1, f"two writers of one ledger at once: {holders}"
    return holders


def _waiting(runs: Runs, holder: str) -> bool:
    """Every other live gated process's last event is a wait for the lock."""
    last: dict[str, str] = {}
    for e in runs.events():
        last[e["label"]] = e["event"]
    return all(last.get(label) == "wait" for label in GATED
               if label != holder and runs.procs[label].poll() is None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Each account's staging database: SQLite files (the lock is a ``flock``), or
    PostgreSQL databases of their own (an advisory lock), dropped afterwards."""
    if request.param == "sqlite":
        yield {a: f"sqlite:///{tmp_path / a}.db" for a in ("one", "two")}
        return
    import secrets

    import sqlalchemy as sa

    from tests.conftest import _postgres_or_skip

    base = sa.make_url(_postgres_or_skip())
    names = {a: f"dotsync_writer_{a}_{secrets.token_hex(4)}" for a in ("one", "two")}
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield {a: base.set(database=n).render_as_string(hide_password=False)
               for a, n in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def accounts(tmp_path: Path, urls: dict[str, str]
             ) -> Iterator[tuple[Path, dict[str, EmulatorServer]]]:
    """Two accounts, each an emulator account with no insight collection (only the
    sample shop's data fields, which its customers carry) and a store of its own with
    the sample shop (with its deliberate mistakes: rejects for replay)."""
    with ExitStack() as stack:
        emulators = {a: stack.enter_context(EmulatorServer(EmulatorConfig(
            user=f"apiuser-{a}@apiconnector.com", password=f"pw-{a}-7f3c",
            import_delay=0.05, random_seed=11, seed=seed_with_fields(*DATA_FIELDS))))
            for a in ("one", "two")}
        lines = ['dotsync_default_region = "GB"', 'dotsync_certificate_campaign_id = "1001"']
        sample = generate(customers=40, orders=80, certificates=8)
        for a, e in emulators.items():
            store = Store(urls[a])
            for entity, path in sample.write(tmp_path / f"samples-{a}").items():
                load_file(store, entity, path)
            store.dispose()
            lines += [f"[accounts.{a}]", f'dotsync_database_url = "{urls[a]}"',
                      f'dotdigital_api_endpoint = "{e.url}"',
                      f'dotdigital_api_user = "{e.config.user}"',
                      f'dotdigital_api_password = "{e.config.password}"']
        toml = tmp_path / "dotsync.toml"
        toml.write_text("\n".join(lines) + "\n")
        yield toml, emulators


@pytest.mark.timeout(1800)
def test_one_account_s_sync_backfill_and_replay_in_separate_processes_take_turns(
        prefect_backend: None, tmp_path: Path, urls: dict[str, str],
        accounts: tuple[Path, dict[str, EmulatorServer]]) -> None:
    from prefect.settings import PREFECT_API_URL

    toml, emulators = accounts
    runs = Runs(tmp_path, str(PREFECT_API_URL.value()), toml)
    try:
        runs.start("one-sync", ["--", "--account", "one", "sync", "--poll-interval", "0.05"],
                   gated=True)
        runs.start("one-backfill", ["--", "--account", "one", "backfill", "--poll-interval",
                                    "0.05", "--chunk-rows", "100"], gated=True)
        runs.start("one-replay", ["--replay", "one"], gated=True)

        # One of account one's runs holds its ledger (and is stopped there); the other two
        # wait for it.
        first = runs.wait_for(lambda: (h := _one_holder(runs)) and _waiting(runs, h[0][0])
                              and h, "account one's runs contending for its ledger")
        # Account two's sync starts and finishes while account one's ledger stays held.
        runs.start("two-sync", ["--", "--account", "two", "sync", "--poll-interval", "0.05"],
                   gated=False)
        assert runs.procs["two-sync"].wait(timeout=TIMEOUT) == 0, runs.logs()
        assert _holders(runs.events(), GATED) == first
        two = _intervals(runs.events(), ("two-sync",))
        assert len(two) == 1

        # Hand the ledger on, one holder at a time, each time with the others waiting.
        handed = 0
        deadline = time.monotonic() + TIMEOUT
        while any(runs.procs[label].poll() is None for label in GATED):
            holders = _one_holder(runs)
            if not holders:  # between two holders (or a holder exiting)
                runs.check("the runs of account one")
                assert time.monotonic() < deadline, f"no holder for long\n{runs.logs()}"
                time.sleep(0.1)
                continue
            label, n = holders[0]
            runs.wait_for(lambda label=label: _one_holder(runs) and _waiting(runs, label),
                          f"the others waiting while {label} holds the ledger")
            runs.open_gate(label, n)
            runs.wait_for(lambda label=label, n=n: (label, n) not in _holders(
                runs.events(), GATED), f"{label} releasing the ledger")
            handed += 1
        for label in GATED:
            assert runs.procs[label].wait(timeout=TIMEOUT) == 0, runs.logs()
    finally:
        runs.stop()

    events = runs.events()
    held = _intervals(events, GATED)
    # sync, backfill, and replay twice (queueing, then its sync subflow).
    assert sorted((label, n) for label, n, _a, _r in held) == [
        ("one-backfill", 1), ("one-replay", 1), ("one-replay", 2), ("one-sync", 1)], held
    assert handed == len(held)
    for before, after in itertools.pairwise(held):
        assert before[3] < after[2], f"two writers of account one's ledger at once: {held}"
    # Account two held its own ledger while account one's first holder held its own.
    (_l, _n, first_acquired, first_released) = next(
        i for i in held if (i[0], i[1]) == first[0])
    assert first_acquired < two[0][2] < two[0][3] < first_released
    assert "waiting for the ledger" in runs.log("one-backfill") + runs.log("one-sync") \
        + runs.log("one-replay")

    for a, emulator in emulators.items():
        store = Store(urls[a])
        ledger = Ledger(store)
        for entity in ("customers", "orders", "certificates"):
            left = set(ledger.states(entity).values()) - {"synced", "rejected"}
            assert not left, (a, entity, left)
        check_invariants(store, emulator)  # nothing sent twice, nothing synced but lost
        synced = sum(1 for s in ledger.states("certificates").values() if s == "synced")
        store.dispose()
        sends = sends_by_code(emulator.state.sends())
        assert len(sends) == synced and max(sends.values()) == 1, (a, sends)
        assert emulator.config.password not in runs.logs()
