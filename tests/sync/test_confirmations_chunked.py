"""Owed order confirmations are read, planned and sent a chunk at a time.

The rows a run reads at once for them follow the chunk, not the number owed; every
owed confirmation still goes out exactly once, and never more than the send cap was
decided on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.confirmations import owed_keys
from tests.e2e.helpers import sends_by_code
from tests.reliability.conftest import emulator_config
from tests.reliability.harness import ORDER_CAMPAIGN, ShopSize, settings_for, stage_shop, sync_once

ORDERS = 45


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config()) as server:
        yield server


def _spy_order_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many orders each read by key asked for (confirmations read their orders so)."""
    sizes: list[int] = []
    read = store.read_staged

    def spy(entity: str, keys: Any = None, *args: Any, **kwargs: Any) -> Any:
        if entity == "orders" and keys is not None:
            sizes.append(len(keys))
        return read(entity, keys, *args, **kwargs)

    monkeypatch.setattr(store, "read_staged", spy)
    return sizes


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_rows_read_at_once_follow_the_chunk_not_the_number_owed(
        sqlite_store: Store, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
        chunk: int) -> None:
    store = sqlite_store
    stage_shop(store, ShopSize(customers=15, orders=ORDERS, certificates=0), bad=False)
    settings = settings_for(emulator, "unused", order_campaign=ORDER_CAMPAIGN)
    sizes = _spy_order_reads(store, monkeypatch)
    report = sync_once(store, settings, confirmations_chunk=chunk)
    assert report.counts["orders"].sent == ORDERS, report.problems
    assert report.counts["confirmations"].sent == ORDERS
    # The send cap counts them (one pass), then they are sent (another): each pass
    # reads at most ``chunk`` orders at a time.
    assert max(sizes) == min(chunk, ORDERS)
    assert sum(sizes) == 2 * ORDERS
    codes = Counter({k: n for k, n in sends_by_code(emulator.state.sends()).items()})
    assert len(codes) == ORDERS and set(codes.values()) == {1}
    assert list(owed_keys(store.engine)) == []


def test_the_send_step_never_sends_more_than_the_cap_was_decided_on(
        sqlite_store: Store, emulator: EmulatorServer) -> None:
    """A confirmation owed after the cap was decided (here: written between the two
    passes) waits for the next run."""
    from dotsync.sync.engine import SyncEngine
    from tests.reliability.harness import make_client, sync_options

    store = sqlite_store
    stage_shop(store, ShopSize(customers=5, orders=10, certificates=0), bad=False)
    settings = settings_for(emulator, "unused", order_campaign=ORDER_CAMPAIGN)
    sync_once(store, settings, entities=("contacts", "orders"))  # confirmations sent
    ledger = Ledger(store)
    owe = [{"key": k, "state": "pending"} for k in ("O1", "O2")]
    ledger.record("confirmations", owe, run_id="r")  # owed again (e.g. a failed send)
    with make_client(settings) as client:
        engine = SyncEngine(store, settings, client,
                            options=sync_options(confirmations_chunk=1))
        engine.connect()
        plan = engine.check_send_cap(None)
        assert plan.confirmations == 2
        ledger.record("confirmations", [{"key": "O3", "state": "failed"}],
                      run_id="r")  # owed after the cap was decided
        before = len(emulator.state.sends())
        engine.send_confirmations()
        assert len(emulator.state.sends()) - before == 2
    assert [k for keys in owed_keys(store.engine) for k in keys] == ["O3"]


def test_owed_keys_pages_in_key_order(sqlite_store: Store) -> None:
    ledger = Ledger(sqlite_store)
    ledger.ensure("confirmations", [f"O{i:02d}" for i in range(10)])
    ledger.record("confirmations", [{"key": "O03", "state": "synced"}], run_id="r")
    ledger.record("confirmations", [{"key": "O04", "state": "failed"}], run_id="r")
    pages = list(owed_keys(sqlite_store.engine, 4))
    assert [len(p) for p in pages] == [4, 4, 1]
    assert [k for p in pages for k in p] == [f"O{i:02d}" for i in range(10) if i != 3]
    with pytest.raises(ValueError):
        list(owed_keys(sqlite_store.engine, 0))
