"""Run bookkeeping in the store: one row per run, updated in place, read back by flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dotsync.store import Store
from dotsync.store.runs import last_run, record_run
from dotsync.sync.report import RunReport


def test_a_run_is_recorded_once_and_updated_in_place(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    assert last_run(store) is None

    report = RunReport(run_id="r1", flow="sync")
    report.status = "failed"
    record_run(store, report)
    report.status = "completed"  # a retry of the same run finishes it
    record_run(store, report)

    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT run_id, status FROM runs").fetchall()
    assert rows == [("r1", "completed")]
    assert last_run(store)["status"] == "completed"


def test_last_run_is_the_latest_started_optionally_of_one_flow(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    now = datetime.now(UTC)
    older = RunReport(run_id="sync-1", flow="sync", started_at=now - timedelta(hours=1))
    newer = RunReport(run_id="backfill-1", flow="backfill", started_at=now)
    for report in (newer, older):  # recorded out of order: started_at decides
        record_run(store, report)

    assert last_run(store)["run_id"] == "backfill-1"
    assert last_run(store, "sync")["run_id"] == "sync-1"
    assert last_run(store, "replay") is None
