"""Reconciliation tests: a fresh emulator account (no collection) and a SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dotsync.config import Settings
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from tests.e2e.helpers import customer, order, stage
from tests.reliability.harness import settings_for


@dataclass
class Shop:
    store: Store
    settings: Settings
    emulator: EmulatorServer


@pytest.fixture
def shop(tmp_path) -> Iterator[Shop]:
    """60 customers and 120 orders (two each), plus 10 guest orders; not yet synced."""
    url = f"sqlite:///{tmp_path / 'reconcile.db'}"
    with EmulatorServer(EmulatorConfig(import_delay=0.01, random_seed=3)) as emulator:
        store = Store(url)
        stage(store, "customers", [customer(i) for i in range(60)])
        stage(store, "orders", [order(i, f"customer{i % 60}@example.com") for i in range(120)]
              + [order(1000 + i, f"guest{i}@example.com") for i in range(10)])
        yield Shop(store, settings_for(emulator, url), emulator)
        store.dispose()
