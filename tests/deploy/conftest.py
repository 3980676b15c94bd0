"""Fixtures for the deployment tests: a real Prefect server, ``dotsync serve``, a worker.

Everything runs as it would for an operator: ``prefect server start`` on a free
loopback port with a temporary ``PREFECT_HOME``, the deployments served by a
separate process, runs triggered through the API. Every process these fixtures
start carries a marker in its environment, which its children inherit (flow-run
processes of a worker run in sessions of their own, so a process group is not
enough); teardown stops them and fails if any process with the marker is left.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.samples import generate
from dotsync.store import Store, load_file

REPO = Path(__file__).resolve().parents[2]
MARKER = "DOTSYNC_DEPLOY_TEST_MARKER"
BLOCK_NAME = "dotdigital-e2e"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def marked_pids(marker: str) -> list[int]:
    """Live processes whose environment carries ``MARKER=marker`` (zombies have none)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@dataclass
class Processes:
    """Starts the test's subprocesses and makes sure none outlives the fixture."""

    folder: Path
    marker: str = field(default_factory=lambda: secrets.token_hex(8))
    started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str],
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, env={**env, MARKER: self.marker}, cwd=cwd or self.folder,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started.append((name, proc, log))
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        """SIGTERM to the process group (a clean stop: serve pauses its schedules),
        SIGKILL if it does not end in time; always waited for."""
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        with suppress(ProcessLookupError):  # children left in the group
            os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self, grace: float = 5.0) -> list[int]:
        """Stop everything, newest first; return the pids that had to be killed after
        (children still exiting get ``grace`` seconds)."""
        for _name, proc, log in reversed(self.started):
            self.stop(proc)
            log.close()
        deadline = time.monotonic() + grace
        left = marked_pids(self.marker)
        while left and time.monotonic() < deadline:  # exiting children may take a moment
            time.sleep(0.1)
            left = marked_pids(self.marker)
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return left


def wait_for(check: Callable[[], Any], timeout: float, what: str,
             proc: subprocess.Popen[bytes] | None = None, log: Callable[[], str] | None = None,
             interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the process log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited ({proc.returncode})\n"
                        f"{log() if log else ''}")
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f}s\n{log()[-4000:] if log else ''}")


def clean_environ() -> dict[str, str]:
    """This process's environment without any Prefect or dotsync setting of the caller."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "DOTSYNC_", "DOTDIGITAL_"))}


@dataclass
class PrefectServer:
    url: str  # http://127.0.0.1:PORT
    api_url: str
    home: Path
    env: dict[str, str]  # what a client process (serve, worker, CLI) needs
    proc: subprocess.Popen[bytes]


def start_prefect_server(processes: Processes, name: str = "server",
                        extra_env: dict[str, str] | None = None) -> PrefectServer:
    """``prefect server start`` on a free loopback port with its own PREFECT_HOME (~11 s;
    up to minutes on a loaded machine, hence the generous wait). ``extra_env`` is added
    to the server's environment only (e.g. its database URL)."""
    port = free_port()
    home = processes.folder / f"{name}-home"
    url = f"http://127.0.0.1:{port}"
    env = {
        **clean_environ(),
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{url}/api",
        "PREFECT_SERVER_UI_API_URL": f"{url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        # A run kept waiting by a deployment's concurrency limit is retried after
        # this many seconds (30 by default): short, so the overlap test is quick.
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "1",
        # serve and workers look for runs every second instead of every 10.
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    proc = processes.start(
        name,
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        {**env, **(extra_env or {})},
    )
    # Generous: on a busy 2-core machine a fresh server took over 90 s to answer.
    wait_for(lambda: httpx.get(f"{url}/api/health", timeout=10).status_code == 200,
             240, "prefect server start", proc, lambda: processes.log(name))
    return PrefectServer(url=url, api_url=f"{url}/api", home=home, env=env, proc=proc)


def run_cli(server: PrefectServer, *args: str, cwd: Path | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """A Prefect CLI command against ``server``; fails the test with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args], env=server.env,
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="package")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    tracker = Processes(tmp_path_factory.mktemp("deploy-processes"))
    try:
        yield tracker
    finally:
        left = tracker.stop_all()
    assert not left, f"processes left behind after the deploy tests: {left}"


@pytest.fixture(scope="package")
def prefect_server(processes: Processes) -> Iterator[PrefectServer]:
    """One Prefect server for the package, and this process's client pointed at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = start_prefect_server(processes)
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server
    processes.stop(server.proc)


@pytest.fixture(scope="package")
def emulator() -> Iterator[EmulatorServer]:
    """The emulator with a password of its own, so a leak of it is easy to find."""
    from dotsync.emulator.structure import seed_with_fields
    from dotsync.samples import DATA_FIELDS

    # the sample shop's account has the data fields its customers carry
    config = EmulatorConfig(password=f"pw-{secrets.token_hex(12)}", import_delay=0.05,
                            random_seed=3, seed=seed_with_fields(*DATA_FIELDS))
    with EmulatorServer(config) as server:
        yield server


def staging_store(folder: Path) -> str:
    """A SQLite staging store with the sample shop (60 customers, 120 orders, 10
    certificates, with the sample data's deliberate mistakes); returns its URL."""
    url = f"sqlite:///{folder / 'staging.db'}"
    store = Store(url)
    try:
        for entity, path in generate(customers=60, orders=120, certificates=10).write(
                folder / "samples").items():
            load_file(store, entity, path)
    finally:
        store.dispose()
    return url


def dotsync_env(server: PrefectServer, emulator: EmulatorServer, database_url: str,
                *, credentials: bool) -> dict[str, str]:
    """The environment of a process that runs dotsync flows: the Prefect server, the
    store, the emulator's endpoint and (``credentials``) the API user from the
    environment rather than a block."""
    env = {
        **server.env,
        "DOTDIGITAL_API_ENDPOINT": emulator.url,
        "DOTSYNC_DATABASE_URL": database_url,
        "DOTSYNC_DEFAULT_REGION": "GB",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        # Every deployed run here happens on this one host, on an absolute SQLite path
        # (or PostgreSQL): preflight's store_location check accepts it.
        "DOTSYNC_SINGLE_HOST": "true",
    }
    if credentials:
        env["DOTDIGITAL_API_USER"] = emulator.config.user
        env["DOTDIGITAL_API_PASSWORD"] = emulator.config.password
    return env


@dataclass
class Served:
    """``dotsync serve`` against the package's server: what the tests drive."""

    server: PrefectServer
    emulator: EmulatorServer
    database_url: str
    proc: subprocess.Popen[bytes]
    log: Callable[[], str]
    folder: Path
    runs: dict[str, Any] = field(default_factory=dict)  # flow runs other tests look at


@pytest.fixture(scope="package")
def served(prefect_server: PrefectServer, emulator: EmulatorServer, processes: Processes,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The three deployments served by ``python -m dotsync.deployments.serve`` (what ``dotsync
    serve`` runs), with the API credentials in a DotdigitalCredentials block: the
    process's environment has no API user or password at all."""
    from dotsync.deployments.credentials import DotdigitalCredentials
    from pydantic import SecretStr

    folder = tmp_path_factory.mktemp("served")
    database_url = staging_store(folder)
    run_cli(prefect_server, "block", "register", "-m", "dotsync.deployments.credentials")
    DotdigitalCredentials(
        api_user=emulator.config.user,
        api_password=SecretStr(emulator.config.password),
    ).save(BLOCK_NAME, overwrite=True)
    env = dotsync_env(prefect_server, emulator, database_url, credentials=False)
    proc = processes.start(
        "serve",
        [sys.executable, "-m", "dotsync.deployments.serve", "--credentials-block", BLOCK_NAME],
        env, cwd=folder,
    )
    served = Served(prefect_server, emulator, database_url, proc,
                    lambda: processes.log("serve"), folder)
    wait_for(lambda: deployment_names(prefect_server) >= {"sync", "backfill", "replay"}
             and "polling" in served.log(), 60, "dotsync serve registering its deployments",
             proc, served.log)
    yield served
    processes.stop(proc)


def deployment_names(server: PrefectServer) -> set[str]:
    answer = httpx.post(f"{server.api_url}/deployments/filter", json={}, timeout=5)
    answer.raise_for_status()
    return {d["name"] for d in answer.json()}
