"""Run bookkeeping: each run's outcome and report, kept in the store's ``runs`` table.

It lives beside the ledger, not in the Prefect flows, because what it records is the
store's history: ``dotsync status`` and a finished command read it back without Prefect,
and a plain-Python run (:mod:`dotsync.sync.run`) could keep it the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dotsync.store.schema import runs

if TYPE_CHECKING:  # the report is the sync's; the store only keeps what it says
    from dotsync.store.db import Store
    from dotsync.sync.report import RunReport


def record_run(store: Store, report: RunReport) -> None:
    """Keep the run's outcome and report in the store (``dotsync status`` reads it).

    Called again for the same run (a failed run's report, then a retry's), it updates
    the row instead of adding one.
    """
    values = {
        "flow": report.flow,
        "started_at": report.started_at,
        "finished_at": report.finished_at or datetime.now(UTC),
        "status": report.status,
        "summary": json.dumps(report.as_dict(), default=str),
    }
    with store.engine.begin() as conn:
        done = conn.execute(runs.update().where(runs.c.run_id == report.run_id).values(values))
        if done.rowcount == 0:
            conn.execute(runs.insert().values(run_id=report.run_id, **values))


def last_run(store: Store, flow: str | None = None) -> dict[str, Any] | None:
    """The report of the latest run (of ``flow``, when given), or None before any run."""
    query = sa.select(runs.c.summary).order_by(runs.c.started_at.desc()).limit(1)
    if flow:
        query = query.where(runs.c.flow == flow)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return json.loads(row[0]) if row and row[0] else None
