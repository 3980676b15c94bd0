"""Configuration kept in Prefect (flows/shared_config.py): a run finds its account's
staging database in a Secret block, whatever the worker's environment says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dotsync.store import Store
from dotsync.store.runs import last_run
from tests.e2e.helpers import customer, prefect_variables, set_variables, stage, states

pytestmark = pytest.mark.e2e


@pytest.fixture
def block_store(env: Any, tmp_path: Path) -> Iterator[Store]:
    """A second store, named by the ``dotsync-database-url`` block (removed afterwards:
    the Prefect backend is shared by the session)."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client

    url = f"sqlite:///{tmp_path / 'from-block.db'}"
    store = Store(url)
    Secret(value=url).save("dotsync-database-url", overwrite=True)
    try:
        yield store
    finally:
        with get_client(sync_client=True) as client:
            client.delete_block_document(
                client.read_block_document_by_name("dotsync-database-url", "secret").id)
        store.dispose()


def test_the_secret_block_names_the_store_over_the_environment(env: Any,
                                                               block_store: Store) -> None:
    stage(block_store, "customers", [customer(1), customer(2)])
    stage(env.store, "customers", [customer(9)])  # the worker's DOTSYNC_DATABASE_URL
    state = env.sync()
    assert state.is_completed(), state.message
    assert states(block_store, "customers") == {"C1": "synced", "C2": "synced"}
    assert last_run(block_store, "sync") is not None
    assert states(env.store, "customers") == {}  # never read, nothing recorded there
    assert last_run(env.store) is None
    assert env.emulator.state.contact("customer9@example.com") is None


def test_without_the_block_the_environment_decides(env: Any) -> None:
    stage(env.store, "customers", [customer(1)])
    state = env.sync()
    assert state.is_completed(), state.message
    assert states(env.store, "customers") == {"C1": "synced"}


@pytest.fixture
def variables(env: Any) -> Iterator[dict[str, Any]]:
    """Prefect Variables to set for the test (``_set``), deleted afterwards."""
    with prefect_variables() as wanted:
        yield wanted


_set = set_variables


def test_an_account_configured_only_in_prefect_variables_runs_on_a_host_without_a_file(
        env: Any, variables: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker on a new host: no dotsync.toml, no DOTSYNC_DATABASE_URL or endpoint in
    its environment. The account's settings come from its Variable, the shared ones
    from ``dotsync-settings``, the database URL from the account's Secret block."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client

    for key in ("DOTSYNC_DATABASE_URL", "DOTDIGITAL_API_ENDPOINT", "DOTSYNC_DEFAULT_REGION",
                "DOTSYNC_CERTIFICATE_CAMPAIGN_ID", "DOTDIGITAL_API_USER"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("DOTSYNC_CONFIG", str(tmp_path / "no-such-dotsync.toml"))
    url = f"sqlite:///{tmp_path / 'acme.db'}"
    store = Store(url)
    stage(store, "customers", [customer(1), customer(2)])
    _set(variables, {
        "dotsync-settings": {"dotsync_default_region": "GB",
                             "dotsync_certificate_campaign_id": 1001},
        "dotsync-settings-acme": {"dotdigital_api_user": env.emulator.config.user,
                                  "dotdigital_api_endpoint": env.emulator.url}})
    Secret(value=url).save("dotsync-database-url-acme", overwrite=True)
    try:
        state = env.sync(account="acme")
    finally:
        with get_client(sync_client=True) as client:
            client.delete_block_document(client.read_block_document_by_name(
                "dotsync-database-url-acme", "secret").id)
    assert state.is_completed(), state.message
    assert states(store, "customers") == {"C1": "synced", "C2": "synced"}
    assert env.emulator.state.contact("customer2@example.com") is not None
    store.dispose()


def test_the_variables_win_over_the_worker_s_file(env: Any, variables: dict[str, Any],
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker runs an account with the same settings: an old dotsync.toml left on
    one host is not read once the account's Variable exists."""
    old = tmp_path / "old.db"
    (tmp_path / "dotsync.toml").write_text(
        f'[accounts.acme]\ndotsync_database_url = "sqlite:///{old}"\n')
    monkeypatch.setenv("DOTSYNC_CONFIG", str(tmp_path / "dotsync.toml"))
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store(url)
    stage(store, "customers", [customer(3)])
    _set(variables, {"dotsync-settings-acme": {"dotsync_database_url": url}})
    state = env.sync(account="acme")
    assert state.is_completed(), state.message
    assert states(store, "customers") == {"C3": "synced"}
    assert not old.exists()
    store.dispose()


@pytest.mark.parametrize(("table", "named"), [
    ({"dotdigital_api_password": "hunter2-7c1e"}, "DotdigitalCredentials block"),
    ({"dotsync_database_url": "postgresql+psycopg://dotsync:hunter2-7c1e@db/acme"},
     "Secret block 'dotsync-database-url-acme'"),
])
def test_a_variable_holding_a_secret_fails_the_run_and_names_the_block_to_use(
        env: Any, variables: dict[str, Any], table: dict[str, str], named: str) -> None:
    _set(variables, {"dotsync-settings-acme": table})
    state = env.sync(account="acme")
    assert state.is_failed()
    message = str(state.message) + repr(state.result(raise_on_failure=False))
    assert "Prefect Variable 'dotsync-settings-acme'" in message and named in message
    assert "hunter2-7c1e" not in message
