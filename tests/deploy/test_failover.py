"""Failover across two workers, as two hosts would run them.

A Prefect server on a database of its own in the machine's PostgreSQL; three
Dotdigital accounts (three emulators), each with its staging store in a PostgreSQL
database of its own; two process workers started from separate directories with
separate ``PREFECT_HOME``s. The syncs of all three accounts and a backfill of each
(with certificates) start on worker A together: the accounts in parallel, each
account's two runs one after the other on its ledger. A and its flow-run processes are
killed with SIGKILL mid-run (a host going away). The heartbeat automation (``dotsync
accounts sync-limits``) marks the six runs Crashed; the next sync of each account, on
worker B, converges: every record settled, nothing sent twice or lost (the invariants
of RELIABILITY.md), each account's calls within its calls per minute and its imports in
flight within 25 contact / 5 insight.
"""

from __future__ import annotations

import bisect
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.emulator.structure import seed_with_fields
from dotsync.samples import DATA_FIELDS, generate
from dotsync.store import Ledger, Store, load_file
from tests.conftest import _postgres_or_skip
from tests.deploy.conftest import (
    REPO,
    Processes,
    run_cli,
    start_prefect_server,
    wait_for,
)
from tests.e2e.helpers import sends_by_code
from tests.reliability.invariants import check_invariants

# Several minutes (two workers, a 90 s wait for the heartbeat automation): slow.
RUN_ALL = os.environ.get("DOTSYNC_TEST_ALL", "").strip() in {"1", "true", "yes"}
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres,
              pytest.mark.skipif(not RUN_ALL, reason="slow: set DOTSYNC_TEST_ALL=1")]

ACCOUNTS = ("north", "south", "west")
HOST = "DOTSYNC_TEST_HOST"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: Each account's calls per minute (its emulator answers 429 beyond it, as Dotdigital
#: does): low enough that the runs' import polls would go faster without it.
CALLS_PER_MINUTE = 120
FLOWS = ("sync", "backfill")


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """A PostgreSQL database for the Prefect server and one per account, dropped after."""
    base = sa.make_url(_postgres_or_skip())
    tag = secrets.token_hex(4)
    names = {"prefect": f"dotsync_failover_prefect_{tag}",
             **{a: f"dotsync_failover_{a}_{tag}" for a in ACCOUNTS}}
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield {k: base.set(database=v).render_as_string(hide_password=False)
               for k, v in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _host_pids(host: str) -> list[int]:
    """Processes (a worker and its flow runs) whose environment says ``HOST=host``."""
    needle = f"{HOST}={host}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _toml(urls: dict[str, str], emulators: dict[str, EmulatorServer]) -> str:
    lines = ['dotsync_default_region = "GB"', 'dotsync_certificate_campaign_id = "1001"',
             f"dotsync_calls_per_minute = {CALLS_PER_MINUTE}"]
    for a in ACCOUNTS:
        e = emulators[a]
        lines += [f"[accounts.{a}]", f'dotsync_database_url = "{urls[a]}"',
                  f'dotdigital_api_endpoint = "{e.url}"',
                  f'dotdigital_api_user = "{e.config.user}"',
                  f'dotdigital_api_password = "{e.config.password}"']
    return "\n".join(lines) + "\n"


def _deployments(folder: Path) -> Path:
    """prefect.yaml's sync and backfill, once per account (as ``dotsync serve
    --all-accounts`` names them), on the process pool: small imports, so that each run
    has many in flight."""
    project = yaml.safe_load((REPO / "prefect.yaml").read_text())
    sync = next(d for d in project["deployments"] if d["name"] == "sync")
    backfill = next(d for d in project["deployments"] if d["name"] == "backfill")
    deployments = []
    for a in ACCOUNTS:
        deployments.append({
            **sync, "name": f"sync-{a}", "tags": ["dotsync", f"account:{a}"],
            "schedules": [],
            "parameters": {"account": a, "preflight": False, "bulk_threshold": 0,
                           "import_max_bytes": 4_000, "poll_interval": 0.2}})
        deployments.append({
            **backfill, "name": f"backfill-{a}", "tags": ["dotsync", f"account:{a}"],
            "schedules": [],
            "parameters": {"account": a, "preflight": False, "include_certificates": True,
                           "chunk_rows": 40, "import_max_bytes": 4_000,
                           "poll_interval": 0.2}})
    out = {k: v for k, v in project.items() if k not in ("deployments", "definitions")}
    path = folder / "prefect.accounts.yaml"
    path.write_text(yaml.safe_dump({**out, "deployments": deployments}, sort_keys=False))
    return path


def _runs(api_url: str, ids: list[str]) -> dict[str, str]:
    found = httpx.post(f"{api_url}/flow_runs/filter",
                       json={"flow_runs": {"id": {"any_": ids}}}, timeout=10).json()
    return {r["id"]: r["state_type"] for r in found}


def _start_runs(api_url: str, flows: tuple[str, ...] = ("sync",)) -> dict[str, str]:
    """One run of each of ``flows`` for every account, all at once: ``{"sync-west": id}``."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return {f"{f}-{a}": str(run_deployment(f"{f}/{f}-{a}", timeout=0).id)
                for a in ACCOUNTS for f in flows}


def _busiest_minute(times: list[float]) -> int:
    """The most calls in any 60-second window [t, t + 60)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 60.0) - i for i, t in enumerate(times)),
               default=0)


def test_a_killed_worker_s_runs_crash_and_the_other_worker_converges_every_account(
        processes: Processes, tmp_path: Path, databases: dict[str, str]) -> None:
    server = start_prefect_server(processes, "failover-server", extra_env={
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": databases["prefect"].replace(
            "postgresql+psycopg", "postgresql+asyncpg")})
    run_cli(server, "work-pool", "create", "dotsync", "--type", "process")
    run_cli(server, "deploy", "--all", "--prefect-file", str(_deployments(tmp_path)))

    with ExitStack() as stack:
        emulators = {a: stack.enter_context(EmulatorServer(EmulatorConfig(
            user=f"apiuser-{a}@apiconnector.com", password=f"pw-{secrets.token_hex(8)}",
            import_delay=8.0, random_seed=5, rate_limit_per_minute=CALLS_PER_MINUTE,
            seed=seed_with_fields(*DATA_FIELDS))))
            for a in ACCOUNTS}
        urls = {a: databases[a] for a in ACCOUNTS}
        sample = generate(customers=60, orders=120, certificates=10)
        for a in ACCOUNTS:
            store = Store(urls[a])
            for entity, path in sample.write(tmp_path / f"samples-{a}").items():
                load_file(store, entity, path)
            store.dispose()

        hosts: dict[str, Path] = {}
        for host in ("a", "b"):
            folder = tmp_path / f"host-{host}"
            folder.mkdir()
            (folder / "dotsync.toml").write_text(_toml(urls, emulators))
            hosts[host] = folder
        env = {**server.env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}

        def start_worker(host: str) -> Any:
            proc = processes.start(
                f"worker-{host}",
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "dotsync",
                 "--name", f"worker-{host}"],
                {**env, "PREFECT_HOME": str(hosts[host] / "prefect-home"), HOST: host,
                 "DOTSYNC_CONFIG": str(hosts[host] / "dotsync.toml")},
                cwd=hosts[host])
            wait_for(lambda: "started" in processes.log(f"worker-{host}"), 120,
                     f"worker {host}", proc, lambda: processes.log(f"worker-{host}"))
            return proc

        # The shared budget and the heartbeat automation, from host A's configuration.
        limits = subprocess.run(
            [str(Path(sys.executable).parent / "dotsync"), "accounts", "sync-limits"],
            env={**env, "PREFECT_HOME": str(hosts["a"] / "prefect-home")},
            cwd=hosts["a"], capture_output=True, text=True, timeout=120)
        assert limits.returncode == 0, limits.stdout + limits.stderr
        assert "dotsync-calls-west: created" in limits.stdout
        assert "automation 'dotsync-failover" in limits.stdout

        worker_a = start_worker("a")
        first = _start_runs(server.api_url, FLOWS)
        # Mid-run: every account has imports submitted, no run has finished (the second
        # run of each account waits for the ledger, as one writer per account must).
        wait_for(lambda: all(e.state.imports() for e in emulators.values())
                 and set(_runs(server.api_url, list(first.values())).values()) == {"RUNNING"},
                 300, "imports from worker A, all six runs running", worker_a,
                 lambda: processes.log("worker-a"))
        for pid in _host_pids("a"):  # the host goes away: worker and flow runs at once
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker_a.wait(timeout=10)

        worker_b = start_worker("b")
        # No heartbeat for 90 s: the automation marks each of A's runs Crashed.
        wait_for(lambda: set(_runs(server.api_url, list(first.values())).values())
                 == {"CRASHED"}, 300, "A's runs marked crashed", worker_b,
                 lambda: processes.log("worker-b"))

        second = _start_runs(server.api_url)
        wait_for(lambda: set(_runs(server.api_url, list(second.values())).values())
                 <= TERMINAL, 300, "B's runs", worker_b, lambda: processes.log("worker-b"))
        states = _runs(server.api_url, list(second.values()))
        assert set(states.values()) == {"COMPLETED"}, (states, processes.log("worker-b")[-4000:])
        log_b = processes.log("worker-b")
        log_a = processes.log("worker-a")
        for a in ACCOUNTS:
            emulator = emulators[a]
            store = Store(urls[a])
            ledger = Ledger(store)
            for entity in ("customers", "orders", "certificates"):
                left = {s for s in ledger.states(entity).values()} - {"synced", "rejected"}
                assert not left, (a, entity, left)
            # Nothing sent twice, nothing synced that Dotdigital lacks, nothing lost.
            check_invariants(store, emulator)
            store.dispose()
            sends = sends_by_code(emulator.state.sends())
            assert sends and max(sends.values()) == 1, (a, sends)
            assert emulator.state.max_active_imports("contacts") <= 25
            assert emulator.state.max_active_imports("insight") <= 5
            # The pacer spaces an account's calls 60/limit seconds apart as they leave;
            # the emulator stamps them as they arrive, so one delayed in transit may
            # share a 60-second window with the call `limit` places after it.
            counted = [c["time"] for c in emulator.state.calls()
                       if not c["path"].startswith("/_emulator")]
            assert _busiest_minute(counted) <= CALLS_PER_MINUTE + 1, a
            assert emulator.config.password not in log_a + log_b
        processes.stop(worker_b)
    processes.stop(server.proc)
