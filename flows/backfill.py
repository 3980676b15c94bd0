"""The ``backfill`` flow: the bulk first load (or a re-load) through the bulk import
endpoints only, streamed so memory stays flat whatever the size.

Contacts first (25 imports in flight), then the orders that need them (5 insight
imports in flight), each import sized by bytes and polled within Dotdigital's 5-30 s
advice. Outcomes go to the ledger as imports finish, so a backfill stopped and
started again resumes without re-sending what finished. Order confirmations are
never sent by a backfill; certificates only with ``include_certificates``, and then
exactly once. A progress artifact follows the run in the Prefect UI.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Annotated, Any

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import run_engine
from dotsync.tasks.sync_steps import run_backfill_steps
from prefect import flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from pydantic import Field

from dotsync.progress import ProgressLine
from dotsync.sync.backfill import Backfill
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.steps import options as defaults


@flow(name="backfill", retries=1, retry_delay_seconds=30, persist_result=False)
def backfill(
    since: date | datetime | None = None,
    include_certificates: bool = False,
    chunk_rows: Annotated[int, Field(ge=1, le=1_000_000)] = defaults.BACKFILL_CHUNK_ROWS,
    poll_interval: Annotated[float, Field(gt=0, le=300)] = defaults.POLL_INTERVAL,
    import_max_bytes: Annotated[int, Field(ge=1_000, le=50_000_000)] = (
        defaults.BACKFILL_IMPORT_MAX_BYTES),
    dry_run: bool = False,
    credentials_block: DotdigitalCredentials | str | None = None,
    preflight: bool = False,
    allow_sends: Annotated[int, Field(ge=0)] | None = None,
    account: str | None = None,
) -> Any:
    """Load everything pending (or changed since ``since``) in bulk.

    Imports are sized up to ``import_max_bytes`` (48 MB by default, under Dotdigital's
    50 MB cap): a first load is large, and the fewer imports, the fewer calls. The
    parameters are typed so the UI's run form offers a date picker, bounds and a
    block picker, with the descriptions below.

    Args:
        since: Only records updated since this date or time (UTC when no zone is
            given); default: everything pending.
        include_certificates: Also send pending certificates (exactly once). More of
            them than DOTSYNC_MAX_SENDS_PER_RUN (or allow_sends) sends none and fails
            the run after the contacts and orders are loaded.
        chunk_rows: Staged rows read at a time.
        poll_interval: Seconds between import status polls (Dotdigital advises
            5-30 s).
        import_max_bytes: Largest import body, in bytes (Dotdigital's cap is 50 MB).
        dry_run: Read and validate everything; send nothing.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name); default: DOTSYNC_CREDENTIALS_BLOCK, else
            DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD.
        preflight: Run every go-live check first and fail the run before any write
            when one fails (deployed runs set it).
        allow_sends: With include_certificates, let this run send up to this many
            certificates instead of DOTSYNC_MAX_SENDS_PER_RUN.
        account: An [accounts.NAME] of dotsync.toml (default: DOTSYNC_ACCOUNT, else
            the single configuration).
    """
    options = Options(
        dry_run=dry_run,
        bulk_threshold=0,
        import_max_bytes=import_max_bytes,
        poll_interval=poll_interval,
        confirmations=False,
        track_settled=False,
        allow_sends=allow_sends,
    )

    def body(engine: SyncEngine) -> None:
        job = Backfill(engine, since=None if since is None else since.isoformat(),
                       chunk_rows=chunk_rows)
        total = max(1, job.total_rows(include_certificates))
        artifact_id = create_progress_artifact(
            progress=0.0, key="dotsync-backfill-progress",
            description=f"rows of the staging store read ({total} in all)")
        shown = {"at": 0.0, "pct": 0.0}
        line = ProgressLine("backfill: staged rows read", total, unit="rows")

        def progress(_settled: int) -> None:
            line.update(job.rows_read)
            pct = min(100.0, 100.0 * job.rows_read / total)
            if pct - shown["pct"] >= 1.0 or time.monotonic() - shown["at"] > 5:
                update_progress_artifact(artifact_id=artifact_id, progress=pct)
                shown.update(at=time.monotonic(), pct=pct)

        engine.on_progress = progress
        run_backfill_steps(job, include_certificates)
        update_progress_artifact(artifact_id=artifact_id, progress=100.0)
        line.update(job.rows_read, force=True)
        line.close()

    return run_engine("backfill", options, body, credentials_block=credentials_block,
                      preflight=preflight, account=account)
