"""``dotsync serve --all-accounts`` on a host with no ``dotsync.toml`` (issue 17): the
accounts kept in Prefect Variables (``dotsync-settings-NAME``) are found on the server
and each gets its deployments, registered on a real Prefect server by a real ``serve``
process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.conftest import (
    PrefectServer,
    Processes,
    clean_environ,
    deployment_names,
    wait_for,
)

pytestmark = pytest.mark.e2e

ACCOUNTS = ("north", "south")
KINDS = ("sync", "backfill", "replay", "consent", "reconcile", "catalog", "carts")


@pytest.fixture
def accounts_in_variables(prefect_server: PrefectServer,
                          tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two accounts kept in Prefect Variables only; the Variables, and any deployment of
    theirs, deleted afterwards (the server is shared by the package)."""
    from prefect.client.orchestration import get_client
    from prefect.variables import Variable

    tables = {f"dotsync-settings-{a}": {"dotsync_database_url": f"sqlite:///{tmp_path}/{a}.db"}
              for a in ACCOUNTS}
    for name, table in tables.items():
        Variable.set(name, table, overwrite=True)
    try:
        yield tables
    finally:
        for name in tables:
            Variable.unset(name)
        with get_client(sync_client=True) as client:
            for deployment in client.read_deployments():
                if deployment.name.rsplit("-", 1)[-1] in ACCOUNTS:
                    client.delete_deployment(deployment.id)


def test_serve_all_accounts_finds_the_accounts_kept_in_prefect_variables(
        prefect_server: PrefectServer, processes: Processes,
        accounts_in_variables: dict[str, Any], tmp_path: Path) -> None:
    empty = tmp_path / "new-host"  # no dotsync.toml, no DOTSYNC_* in the environment
    empty.mkdir()
    env = {**clean_environ(), **prefect_server.env}
    proc = processes.start(
        "serve-accounts", [sys.executable, "-m", "dotsync.deployments.serve",
                           "--all-accounts"], env, cwd=empty)
    try:
        wanted = {f"{kind}-{a}" for kind in KINDS for a in ACCOUNTS}
        log = lambda: processes.log("serve-accounts")  # noqa: E731
        wait_for(lambda: deployment_names(prefect_server) >= wanted and "polling" in log(),
                 120, "serve --all-accounts registering both accounts' deployments", proc, log)
        for a in ACCOUNTS:
            assert (f"account {a}: settings from the Prefect Variable "
                    f"'dotsync-settings-{a}'") in log()
            sync = httpx.get(f"{prefect_server.api_url}/deployments/name/sync/sync-{a}",
                             timeout=10).json()
            assert sync["parameters"]["account"] == a
            assert f"account:{a}" in sync["tags"]
    finally:
        processes.stop(proc)
