"""The ``sync`` flow: pending records from the staging store into Dotdigital.

extract pending → validate → contacts → orders → order confirmations →
certificates → report. Each step is one task working on a batch; every outcome is
written to the ledger as soon as it is known, so a retried task or flow run resumes
where it stopped. Rejected records never fail the run; a run that cannot work at all
(credentials, host, region, configuration) ends ``Failed`` with one clear message.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Failed

from dotsync.config import Settings
from dotsync.sync.changed import Changes
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.registry import ENTITIES, SyncRun, run_steps
from dotsync.sync.steps import options as defaults
from flows.common import run_engine
from tasks.sync_steps import run_as_task

ALL_ENTITIES = ENTITIES


@flow(name="sync", retries=1, retry_delay_seconds=5, persist_result=False)
def sync(
    entities: list[str] | None = None,
    dry_run: bool = False,
    bulk_threshold: int | None = None,
    send_batch_size: int = defaults.SEND_BATCH_SIZE,
    import_max_bytes: int = defaults.IMPORT_MAX_BYTES,
    poll_interval: float = defaults.POLL_INTERVAL,
    report_file: str | None = None,
    credentials_block: str | None = None,
    preflight: bool = False,
    allow_sends: int | None = None,
    account: str | None = None,
) -> Any:
    """One run of the sync (SPEC §4 ``dotsync sync``).

    ``entities`` limits the run to some of contacts, orders and certificates;
    ``dry_run`` does everything up to the API calls and reports what would be sent.
    Contacts and orders up to ``bulk_threshold`` (default: the
    ``DOTSYNC_CONTACT_BULK_THRESHOLD`` setting) go as single calls, more as bulk
    imports of at most ``import_max_bytes``. ``report_file`` also writes the Markdown
    report there; ``credentials_block`` names a ``DotdigitalCredentials`` block;
    ``preflight`` runs every go-live check first and fails the run before any write
    when one fails (deployed runs set it). A run that would send more order
    confirmations and certificates than ``DOTSYNC_MAX_SENDS_PER_RUN`` sends none and
    fails; ``allow_sends`` lets this one run send up to that many instead.
    ``account`` chooses an ``[accounts.NAME]`` of ``dotsync.toml`` (default:
    ``DOTSYNC_ACCOUNT``, else the single configuration).
    """
    chosen = tuple(entities or ALL_ENTITIES)
    unknown = sorted(set(chosen) - set(ALL_ENTITIES))
    if unknown:
        return Failed(message=f"unknown entities {unknown}; use {', '.join(ALL_ENTITIES)}")
    options = Options(
        dry_run=dry_run,
        bulk_threshold=Settings.from_env(account=account).contact_bulk_threshold
        if bulk_threshold is None else bulk_threshold,
        send_batch_size=send_batch_size,
        import_max_bytes=import_max_bytes,
        poll_interval=poll_interval,
        # A retried step re-reads what is still pending from the ledger, chunk by
        # chunk: no set of every settled key, so memory does not grow with the changes.
        track_settled=False,
        allow_sends=allow_sends,
    )

    def body(engine: SyncEngine) -> None:
        # Each step reads only what changed, a chunk at a time; nothing passes between
        # the tasks but the run's engine, its windows over the change stamps, and the
        # certificates the send cap is decided on. The steps and their order are the
        # registry's (dotsync.sync.registry), each one a task.
        run_steps(engine, SyncRun(Changes(engine), chosen), call=run_as_task)

    return run_engine("sync", options, body, credentials_block=credentials_block,
                      preflight=preflight, account=account,
                      report_file=report_file)
