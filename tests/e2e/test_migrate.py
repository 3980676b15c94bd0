"""Exactly once across databases: ``dotsync migrate`` and ``--assume-sent-before``.

Against the bundled emulator, starting from an empty account (no insight collection):
a store moved from SQLite to PostgreSQL, or a shop that lost its ledger, must not
send a certificate or an order confirmation a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from dotsync.deployments.cli import main

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger, Store
from tests.e2e.conftest import Env
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage

pytestmark = pytest.mark.e2e

RECENT = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def empty_account() -> Iterator[EmulatorServer]:
    """An account as Dotdigital opens it: no insight collection at all."""
    with EmulatorServer(EmulatorConfig(import_delay=0.02, random_seed=3,
                                       seed={"collections": []})) as server:
        yield server


@pytest.fixture
def env_empty(prefect_backend, empty_account, tmp_path, monkeypatch) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    for key, value in {
        "DOTDIGITAL_API_ENDPOINT": empty_account.url,
        "DOTDIGITAL_API_USER": empty_account.config.user,
        "DOTDIGITAL_API_PASSWORD": empty_account.config.password,
        "DOTSYNC_DATABASE_URL": url,
        "DOTSYNC_DEFAULT_REGION": "GB",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        "DOTSYNC_ORDER_CAMPAIGN": "1002",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    store = Store(url)
    yield Env(store=store, emulator=empty_account, url=url)
    store.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL for a PostgreSQL schema of its own (dropped afterwards)."""
    from tests.conftest import postgres_schema_url

    with postgres_schema_url() as url:
        yield url


def stage_shop(store: Store) -> None:
    stage(store, "customers", [customer(i) for i in range(1, 4)])
    stage(store, "orders", [order(i, f"customer{i}@example.com", placed_at=RECENT,
                                  updated_at=RECENT) for i in range(1, 4)])
    stage(store, "certificates", [certificate(i, f"customer{i}@example.com")
                                  for i in range(1, 3)])


@pytest.mark.postgres
def test_sqlite_to_postgres_migrate_then_a_run_resends_nothing(env_empty, postgres_url,
                                                                monkeypatch):
    env = env_empty
    stage_shop(env.store)
    first = env.sync(bulk_threshold=0)
    assert first.is_completed(), first.message
    sent = sends_by_code(env.emulator.state.sends())
    assert sent["CODE1"] == 1 and sent["CODE2"] == 1
    assert all(n == 1 for n in sent.values())

    result = CliRunner().invoke(main, ["migrate", "--to", postgres_url])
    assert result.exit_code == 0, result.output
    assert "Every table verified" in result.output
    assert "ledger" in result.output

    monkeypatch.setenv("DOTSYNC_DATABASE_URL", postgres_url)
    before = len(env.emulator.state.sends())
    again = env.sync(bulk_threshold=0)
    assert again.is_completed(), again.message
    assert len(env.emulator.state.sends()) == before
    assert again.result()["certificates"]["sent"] == 0
    moved = Store(postgres_url)
    assert Ledger(moved).states("certificates") == {"G1": "synced", "G2": "synced"}
    moved.dispose()

    # The target now holds data: a second migrate is refused, naming --force.
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", env.url)
    refused = CliRunner().invoke(main, ["migrate", "--to", postgres_url])
    assert refused.exit_code == 2 and "--force" in refused.output


def test_a_lost_ledger_with_assume_sent_before_resends_nothing(env_empty, tmp_path,
                                                               monkeypatch):
    env = env_empty
    stage_shop(env.store)
    assert env.sync(bulk_threshold=0).is_completed()
    sent_before = sends_by_code(env.emulator.state.sends())

    # The ledger is lost: the same staged data in a new database.
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", fresh_url)
    fresh = Store(fresh_url)
    stage_shop(fresh)
    stage(fresh, "certificates", [certificate(3, "customer3@example.com",
                                              updated_at="2099-01-01T00:00:00Z")])
    cutoff = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    result = CliRunner().invoke(main, ["sync", "--assume-sent-before", cutoff,
                                       "--poll-interval", "0.02"])
    assert result.exit_code == 0, result.output
    assert "2 certificates and 3 order confirmations marked as already sent" in result.output
    after = sends_by_code(env.emulator.state.sends())
    assert after - sent_before == {"CODE3": 1}  # only the certificate from after DATE
    rows = Ledger(fresh).frame("certificates").set_index("key")
    assert rows.loc["G1", "state"] == "synced"
    assert "assume-sent-before" in rows.loc["G1", "detail"]
    assert rows.loc["G3", "state"] == "synced" and rows.loc["G3", "detail"] is None
    fresh.dispose()
