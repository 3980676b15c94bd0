"""What every dotsync flow needs: settings, the store, a client, and run bookkeeping."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prefect.runtime import flow_run

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.store import Store
from dotsync.store.schema import runs
from dotsync.sync.report import RunReport


def load_settings(credentials_block: str | None = None) -> Settings:
    """Settings from the environment / dotsync.toml, with the API credentials taken
    from a ``DotdigitalCredentials`` block when one is named (by the deployment's
    ``credentials_block`` parameter or ``DOTSYNC_CREDENTIALS_BLOCK``)."""
    settings = Settings.from_env()
    name = credentials_block or os.environ.get("DOTSYNC_CREDENTIALS_BLOCK")
    if name:
        from deployments.credentials import DotdigitalCredentials

        settings = DotdigitalCredentials.load(name).apply(settings)
    return settings


def current_run_id() -> str:
    run_id = flow_run.get_id()
    if run_id:
        return str(run_id)
    import uuid

    return uuid.uuid4().hex


def make_client(settings: Settings, **overrides: Any) -> DotdigitalClient:
    return DotdigitalClient.from_settings(settings, **overrides)


def record_run(store: Store, report: RunReport) -> None:
    """Keep the run's outcome and report in the store (``dotsync status`` reads it)."""
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
    query = sa.select(runs.c.summary).order_by(runs.c.started_at.desc()).limit(1)
    if flow:
        query = query.where(runs.c.flow == flow)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return json.loads(row[0]) if row and row[0] else None
