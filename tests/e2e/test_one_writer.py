"""One writer per account's ledger (issue 17): a sync, a backfill and a replay of one
account started together take turns, whichever starts first, and each still finishes
its work. Each run's interval in the ``runs`` table is when it held the ledger."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from dotsync.store.schema import runs
from tests.e2e.conftest import Env
from tests.e2e.helpers import customer, order, stage, states

pytestmark = pytest.mark.e2e


def _intervals(env: Env) -> list[tuple[str, datetime, datetime]]:
    with env.store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.flow, runs.c.started_at, runs.c.finished_at)
                            .order_by(runs.c.started_at)).all()
    return [(flow, _utc(a), _utc(b)) for flow, a, b in rows]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_sync_backfill_and_replay_of_one_account_never_overlap(env: Env) -> None:
    from dotsync.flows.backfill import backfill
    from dotsync.flows.replay import replay
    from dotsync.flows.sync import sync

    stage(env.store, "customers", [customer(i) for i in range(40)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in range(40)])
    # Slow enough that each run lasts long after the others have started.
    env.emulator.state.set_faults(latency=0.03)
    started: list[datetime] = []
    errors: list[BaseException] = []
    runs_to_start: list[Any] = [
        lambda: sync.with_options(retries=0)(poll_interval=0.02, bulk_threshold=0,
                                             return_state=True),
        lambda: backfill.with_options(retries=0)(poll_interval=0.02, chunk_rows=10,
                                                 return_state=True),
        lambda: replay(return_state=True),
    ]
    gate = threading.Barrier(len(runs_to_start))

    def run(start: Any) -> None:
        try:
            gate.wait(30)
            started.append(datetime.now(UTC))
            state = start()
            assert state.is_completed(), state.message
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in runs_to_start]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    held = _intervals(env)
    assert sorted(flow for flow, _a, _b in held) == ["backfill", "sync", "sync"]
    for (_f1, _s1, end1), (_f2, start2, _e2) in itertools.pairwise(held):
        assert end1 <= start2, f"two runs wrote the ledger at once: {held}"
    # They did contend: every run had started before the first one finished.
    assert max(started) < held[0][2]
    assert set(states(env.store, "orders").values()) == {"synced"}
