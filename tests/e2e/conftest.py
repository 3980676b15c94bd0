"""End-to-end fixtures: a temporary Prefect backend, the bundled emulator, a fresh store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_backend() -> Iterator[None]:
    """One temporary Prefect database and API for the whole session (~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.05, random_seed=1)) as server:
        yield server


@dataclass
class Env:
    """What a test needs to drive runs: the store, the emulator and the flow."""

    store: Store
    emulator: EmulatorServer
    url: str

    def sync(self, **params: Any) -> Any:
        from dotsync.flows.sync import sync

        params.setdefault("poll_interval", 0.02)
        return sync.with_options(retries=0)(**params, return_state=True)


@pytest.fixture
def env(prefect_backend, emulator, tmp_path, monkeypatch) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    for key, value in {
        "DOTDIGITAL_API_ENDPOINT": emulator.url,
        "DOTDIGITAL_API_USER": emulator.config.user,
        "DOTDIGITAL_API_PASSWORD": emulator.config.password,
        "DOTSYNC_DATABASE_URL": url,
        "DOTSYNC_DEFAULT_REGION": "GB",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOTSYNC_ORDER_CAMPAIGN", raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store(url)
    yield Env(store=store, emulator=emulator, url=url)
    store.dispose()
