"""What the reliability tests share: a shop to stage, runs without Prefect, and
subprocess runs that can be killed.

Runs go through :func:`dotsync.sync.run.run_sync` / :func:`run_backfill` (the flows'
steps in the flows' order, without the orchestrator) because the guarantees are the
steps' to keep, and because a fault or crash test needs many short runs. The client is
built with a short back-off so that a 20 % error rate costs milliseconds, not minutes;
everything else (retries, idempotency rules, ledger) is the production code path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.report import RunReport
from dotsync.sync.run import run_backfill, run_sync
from dotsync.sync.transactional import enable_confirmations
from tests.e2e.helpers import certificate, customer, order, stage

REPO = Path(__file__).resolve().parents[2]

#: The API password of every reliability test: distinctive, so that a leak is found by
#: a plain substring search, and with characters that URL- or shell-quoting would change.
PASSWORD = "Rel1ab!lity-pw_7f3c9e2a&Zq"
USER = "apiuser-reliability@apiconnector.com"

ORDER_CAMPAIGN = "Order confirmation"
#: The shop's orders carry fixed 2026 dates: confirmations were enabled before them and
#: never age out (DOTSYNC_CONFIRMATION_MAX_AGE), so every order here is owed one and the
#: exactly-once protocol is exercised; the skip rules have tests of their own.
CONFIRMATIONS_ENABLED = datetime(2026, 1, 1, tzinfo=UTC)
NEVER_TOO_OLD = timedelta(days=36500)


def settings_for(emulator: EmulatorServer, url: str, *, order_campaign: str | None = None,
                 **extra: Any) -> Settings:
    """Settings pointing at ``emulator`` and the store at ``url`` (region GB, campaign 1001)."""
    extra.setdefault("confirmation_max_age", NEVER_TOO_OLD)
    return Settings(api_user=emulator.config.user, api_password=SecretStr(emulator.config.password),
                    api_endpoint=emulator.url, database_url=url, default_region="GB",
                    certificate_campaign_id=1001, order_campaign=order_campaign, **extra)


def make_client(settings: Settings, **overrides: Any) -> DotdigitalClient:
    """A production client with a back-off of milliseconds (the waits are not under test)."""
    kwargs: dict[str, Any] = {"backoff_base": 0.005, "backoff_max": 0.02}
    kwargs.update(overrides)
    return DotdigitalClient.from_settings(settings, **kwargs)


def sync_options(**over: Any) -> Options:
    """Options of a test sync: fast polls, small send batches so batches are many."""
    base: dict[str, Any] = {"poll_interval": 0.01, "send_batch_size": 4, "bulk_threshold": 200}
    base.update(over)
    return Options(**base)


def backfill_options(**over: Any) -> Options:
    """What ``python -m dotsync.sync.run backfill`` uses, with fast polls."""
    base: dict[str, Any] = {"poll_interval": 0.01, "send_batch_size": 4, "bulk_threshold": 0,
                            "confirmations": False, "track_settled": False,
                            "import_max_bytes": 4_000}
    base.update(over)
    return Options(**base)


def sync_once(store: Store, settings: Settings, *, entities: Sequence[str] | None = None,
              client_overrides: dict[str, Any] | None = None, chunk_rows: int | None = None,
              **options: Any) -> RunReport:
    """One sync run in this process, as the flow would run it."""
    with make_client(settings, **(client_overrides or {})) as client:
        engine = SyncEngine(store, settings, client, options=sync_options(**options))
        chunks = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
        if entities is None:
            return run_sync(engine, **chunks)
        return run_sync(engine, entities, **chunks)


def backfill_once(store: Store, settings: Settings, *, chunk_rows: int = 25,
                  include_certificates: bool = True,
                  client_overrides: dict[str, Any] | None = None, **options: Any) -> RunReport:
    """One backfill run in this process."""
    with make_client(settings, **(client_overrides or {})) as client:
        engine = SyncEngine(store, settings, client, options=backfill_options(**options),
                            flow="backfill")
        return run_backfill(engine, chunk_rows=chunk_rows,
                            include_certificates=include_certificates)


def ledger_snapshot(store: Store) -> dict[str, dict[str, str]]:
    """``{entity: {key: state}}`` over the whole ledger, to see when runs stop changing it."""
    frame_entities = ("customers", "orders", "certificates", "contacts", "confirmations")
    ledger = Ledger(store)
    return {e: ledger.states(e) for e in frame_entities}


def converge(store: Store, settings: Settings, *, job: str = "sync", max_runs: int = 4,
             **options: Any) -> list[RunReport]:
    """Runs without faults until the ledger stops changing (at most ``max_runs``).

    Guarantee 1 speaks of "runs that are allowed to finish": this is them.
    """
    reports: list[RunReport] = []
    before = ledger_snapshot(store)
    for _ in range(max_runs):
        if job == "sync":
            reports.append(sync_once(store, settings, **options))
        else:
            reports.append(backfill_once(store, settings, **options))
        after = ledger_snapshot(store)
        if after == before and reports[-1].write_calls == 0:
            break
        before = after
    return reports


# -- a shop -------------------------------------------------------------------------

@dataclass(frozen=True)
class ShopSize:
    customers: int = 24
    orders: int = 48
    certificates: int = 12


def stage_shop(store: Store, size: ShopSize = ShopSize(), *, bad: bool = True,
               confirmations_enabled: datetime | None = CONFIRMATIONS_ENABLED) -> None:
    """Good customers, their orders and certificates, plus (``bad``) the mistakes real
    exports carry: a customer whose updated_at cannot be read (its order and certificate
    wait for it), customers sent with a field left out (a phone number that cannot be
    valid, one two customers share: warnings; their orders go on), a guest checkout, an
    order with an unknown currency, a certificate with an ``http://`` link, and a
    certificate for a hard-bounced address (Dotdigital refuses that send)."""
    n = size.customers
    customers = [customer(i) for i in range(n)]
    orders = [order(i, f"customer{i % n}@example.com") for i in range(size.orders)]
    certificates = [certificate(i, f"customer{i % n}@example.com")
                    for i in range(size.certificates)]
    if bad:
        customers.append(customer(900, updated_at="not a timestamp"))
        # Sent with a field left out (SPEC §1 warnings): a bad number, a shared one.
        customers += [customer(901, mobile_number="0161 496 000"),
                      customer(902, mobile_number="07911 123456"),
                      customer(903, mobile_number="+44 7911 123456")]
        orders += [order(900, "customer900@example.com"), order(901, "Guest@Example.org"),
                   order(902, "customer1@example.com", currency="XXY"),
                   order(903, "customer901@example.com"), order(904, "customer903@example.com")]
        certificates += [certificate(900, "customer900@example.com"),
                         certificate(901, "customer2@example.com",
                                     link="http://shop.example.com/g/901"),
                         certificate(902, "bounced@example.com")]
    stage(store, "customers", customers)
    stage(store, "orders", orders)
    stage(store, "certificates", certificates)
    if confirmations_enabled is not None:
        enable_confirmations(store, confirmations_enabled)


# -- subprocess runs ------------------------------------------------------------------

def subprocess_env(emulator: EmulatorServer, url: str, *, order_campaign: str | None = None,
                   failpoint: str | None = None) -> dict[str, str]:
    """The environment of ``python -m dotsync.sync.run`` against ``emulator`` and ``url``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOTSYNC_", "DOTDIGITAL_"))}
    env.update({
        "DOTDIGITAL_API_ENDPOINT": emulator.url,
        "DOTDIGITAL_API_USER": emulator.config.user,
        "DOTDIGITAL_API_PASSWORD": emulator.config.password,
        "DOTSYNC_DATABASE_URL": url,
        "DOTSYNC_DEFAULT_REGION": "GB",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        "DOTSYNC_CONFIRMATION_MAX_AGE": f"{NEVER_TOO_OLD.days}d",
        "PYTHONPATH": str(REPO),
    })
    if order_campaign:
        env["DOTSYNC_ORDER_CAMPAIGN"] = order_campaign
    if failpoint:
        env["DOTSYNC_FAILPOINT"] = failpoint
    return env


SYNC_ARGS = ("--poll-interval", "0.01", "--send-batch-size", "4")
BACKFILL_ARGS = ("--poll-interval", "0.01", "--send-batch-size", "4", "--import-max-bytes",
                 "4000", "--chunk-rows", "25", "--include-certificates")


@dataclass
class Job:
    """One ``python -m dotsync.sync.run`` process, killed for sure when the test ends."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[str] | None = None
    stdout: str = ""
    stderr: str = ""
    started: float = field(default=0.0)

    def start(self) -> Job:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dotsync.sync.run", *self.args], env=self.env, cwd=self.cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.started = time.monotonic()
        return self

    def kill(self) -> None:
        """SIGKILL the run's process group (only this job's own processes)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float = 120.0) -> int:
        assert self.process is not None
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.stdout, self.stderr = self.process.communicate()
            raise AssertionError(f"{self.args} did not finish in {timeout} s: "
                                 f"{self.stderr[-2000:]}") from None
        return self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextlib.contextmanager
def jobs() -> Iterator[list[Job]]:
    """Collects jobs started in the block and kills whatever is still running at its end."""
    started: list[Job] = []
    try:
        yield started
    finally:
        for job in started:
            job.kill()
            if job.process is not None:
                with contextlib.suppress(Exception):
                    job.process.communicate(timeout=10)
