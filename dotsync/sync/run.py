"""Running the sync or the backfill without an orchestrator.

The Prefect flows are the way dotsync runs in production; this module runs the same
steps in the same order in a plain process. Tests that kill processes use it
(``python -m dotsync.sync.run sync``), because a crash test needs many short runs and
the steps, not Prefect, are what must survive being killed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.store import Store
from dotsync.sync.backfill import Backfill, backfill_steps
from dotsync.sync.changed import Changes
from dotsync.sync.engine import Options, RunFailed, SyncEngine
from dotsync.sync.registry import ENTITIES, SyncRun, run_steps
from dotsync.sync.report import RunReport
from dotsync.sync.steps import options as defaults

ALL = ENTITIES


def run_sync(engine: SyncEngine, entities: Sequence[str] = ALL, *,
             chunk_rows: int = defaults.CHUNK_ROWS) -> RunReport:
    """The sync flow's steps (the registry's), in its order, over what changed
    (``chunk_rows`` at a time)."""
    engine.connect()
    run_steps(engine, SyncRun(Changes(engine, chunk_rows=chunk_rows), entities))
    return engine.finish()


def run_backfill(engine: SyncEngine, *, since: str | None = None,
                 chunk_rows: int = defaults.BACKFILL_CHUNK_ROWS,
                 include_certificates: bool = False) -> RunReport:
    """The backfill flow's steps, in its order."""
    engine.connect()
    job = Backfill(engine, since=since, chunk_rows=chunk_rows)
    for step in backfill_steps(include_certificates):
        step.run(job, include_certificates)
    return engine.finish()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dotsync.sync.run")
    parser.add_argument("job", choices=["sync", "backfill"])
    parser.add_argument("--poll-interval", type=float, default=defaults.POLL_INTERVAL)
    parser.add_argument("--bulk-threshold", type=int, default=None)
    parser.add_argument("--import-max-bytes", type=int, default=defaults.IMPORT_MAX_BYTES)
    parser.add_argument("--send-batch-size", type=int, default=defaults.SEND_BATCH_SIZE)
    parser.add_argument("--chunk-rows", type=int, default=None,
                        help=f"staged rows read at a time (sync {defaults.CHUNK_ROWS}, "
                             f"backfill {defaults.BACKFILL_CHUNK_ROWS})")
    parser.add_argument("--include-certificates", action="store_true")
    parser.add_argument("--allow-sends", type=int, default=None)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    backfill = args.job == "backfill"
    options = Options(
        bulk_threshold=0 if backfill else (
            settings.contact_bulk_threshold if args.bulk_threshold is None
            else args.bulk_threshold),
        import_max_bytes=args.import_max_bytes,
        poll_interval=args.poll_interval,
        send_batch_size=args.send_batch_size,
        confirmations=not backfill,
        track_settled=False,  # both re-read the ledger chunk by chunk
        allow_sends=args.allow_sends,
    )
    store = Store(settings.database_url)
    try:
        with DotdigitalClient.from_settings(settings) as client:
            engine = SyncEngine(store, settings, client, options=options, flow=args.job)
            report = (run_backfill(engine,
                                   chunk_rows=args.chunk_rows or defaults.BACKFILL_CHUNK_ROWS,
                                   include_certificates=args.include_certificates)
                      if backfill else run_sync(engine,
                                                chunk_rows=args.chunk_rows or defaults.CHUNK_ROWS))
    except RunFailed as exc:
        print(json.dumps({"status": "failed", "message": str(exc)}))
        return 1
    print(json.dumps(report.as_dict(), default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
