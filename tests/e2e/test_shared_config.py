"""Configuration kept in Prefect (flows/shared_config.py): a run finds its account's
staging database in a Secret block, whatever the worker's environment says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dotsync.store import Store
from dotsync.store.runs import last_run
from tests.e2e.helpers import customer, stage, states

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
