"""Commands that write the ledger outside a flow run take the account's ledger lock
(issue 17): ``dotsync resend certificate ID`` and ``dotsync sync --assume-sent-before``
wait while another run holds it, say which run that is, write nothing meanwhile, and
go on once it is released.

The lock is held by the test on a connection of its own (PostgreSQL: another session's
advisory lock; SQLite: another open file's ``flock``), as another worker's run would
hold it. The holder learns that the command is waiting from the lock's own first
refusal, looks at what the command has written by then, and only then lets go: no
timing decides the verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dotsync.deployments.cli import main

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store, writer
from tests.e2e.helpers import certificate, customer, sends_by_code, stage

pytestmark = pytest.mark.e2e

HOLDER = "waiting for the ledger: sync run run-42"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The account's staging store: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    from tests.conftest import postgres_schema_url

    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def shop(store_url: str, emulator: EmulatorServer, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The command line's configuration (environment only) and its store, with one
    customer and one certificate staged."""
    for key, value in {
        "DOTDIGITAL_API_ENDPOINT": emulator.url,
        "DOTDIGITAL_API_USER": emulator.config.user,
        "DOTDIGITAL_API_PASSWORD": emulator.config.password,
        "DOTSYNC_DATABASE_URL": store_url,
        "DOTSYNC_DEFAULT_REGION": "GB",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        "DOTSYNC_PROGRESS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("DOTSYNC_ACCOUNT", "DOTSYNC_CONFIG", "DOTSYNC_ORDER_CAMPAIGN",
                "DOTSYNC_CREDENTIALS_BLOCK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store(store_url)
    stage(store, "customers", [customer(1)])
    stage(store, "certificates", [certificate(1, "customer1@example.com")])
    yield store
    store.dispose()


@contextmanager
def held_until_refused(url: str, monkeypatch: pytest.MonkeyPatch,
                       look: Callable[[], Any]) -> Iterator[dict[str, Any]]:
    """Hold the ledger as ``sync`` run ``run-42`` until a writer is refused it; then
    ``look()`` (what was written while it waited) goes into the yielded dict under
    ``"while_waiting"`` and the lock is released."""
    store = Store(url)
    held, refused, finished = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def hold() -> None:
        with writer.ledger_writer(store.engine, flow="sync", run_id="run-42"):
            held.set()
            # A refused writer is stuck until this returns, so ``finished`` can only
            # be set here when no writer was ever refused.
            if refused.wait(120) and not finished.is_set():
                seen["while_waiting"] = look()

    real = writer._holder_for

    def observed(engine: sa.Engine) -> Any:
        holder = real(engine)
        attempt = holder.try_acquire

        def try_acquire() -> bool:
            got = attempt()
            if not got:
                refused.set()
            return got

        holder.try_acquire = try_acquire  # type: ignore[method-assign]
        return holder

    thread = threading.Thread(target=hold, name="ledger-holder", daemon=True)
    thread.start()
    assert held.wait(60), "the test could not take the ledger lock"
    monkeypatch.setattr(writer, "_holder_for", observed)  # after the holder took it
    try:
        yield seen
    finally:
        finished.set()
        refused.set()  # never leave the holder waiting, whatever happened
        thread.join(60)
        store.dispose()
    assert not thread.is_alive()


def test_resend_waits_for_the_run_holding_the_ledger_and_then_sends(
        shop: Store, store_url: str, emulator: EmulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def look() -> Any:
        return dict(sends_by_code(emulator.state.sends())), Ledger(shop).states("certificates")

    with held_until_refused(store_url, monkeypatch, look) as seen:
        result = CliRunner().invoke(main, ["resend", "certificate", "G1"])
    assert "while_waiting" in seen, "the command never waited for the ledger"
    assert seen["while_waiting"] == ({}, {}), "the command wrote while the lock was held"
    assert result.exit_code == 0, result.output
    assert HOLDER in result.output
    assert "certificate G1 sent again." in result.output
    assert sends_by_code(emulator.state.sends()) == {"CODE1": 1}
    assert Ledger(shop).states("certificates") == {"G1": "synced"}


def test_assume_sent_before_waits_for_the_run_holding_the_ledger_and_then_marks(
        prefect_backend: None, shop: Store, store_url: str, emulator: EmulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with held_until_refused(store_url, monkeypatch,
                            lambda: Ledger(shop).states("certificates")) as seen:
        result = CliRunner().invoke(main, ["sync", "--entities", "certificates",
                                           "--assume-sent-before", "2030-01-01"])
    assert "while_waiting" in seen, "the command never waited for the ledger"
    assert seen["while_waiting"] == {}, "the command wrote while the lock was held"
    assert result.exit_code == 0, result.output
    assert HOLDER in result.output
    assert "1 certificates and 0 order confirmations marked as already sent" in result.output
    assert Ledger(shop).states("certificates") == {"G1": "synced"}
    assert sends_by_code(emulator.state.sends()) == {}  # marked, so the sync sent nothing


def test_a_mistyped_date_is_refused_without_waiting_for_the_ledger(
        shop: Store, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with held_until_refused(store_url, monkeypatch, lambda: None) as seen:
        result = CliRunner().invoke(main, ["sync", "--assume-sent-before", "soon"])
    assert result.exit_code == 2, result.output
    assert "--assume-sent-before 'soon' is not an ISO 8601 date" in result.output
    assert "while_waiting" not in seen and HOLDER not in result.output
