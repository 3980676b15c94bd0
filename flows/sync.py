"""The ``sync`` flow: pending records from the staging store into Dotdigital.

extract pending → validate → contacts submitted → orders of existing contacts (while
the contact imports run) → contacts settled → orders of new contacts → order
confirmations → certificates → report (the steps of ``dotsync.sync.registry``). Each
step is one task working on a batch; every outcome is written to the ledger as soon
as it is known, so a retried task or flow run resumes where it stopped. Rejected
records never fail the run; a run that cannot work at all (credentials, host,
region, configuration) ends ``Failed`` with one clear message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import run_engine
from dotsync.flows.shared_config import shared_settings
from dotsync.tasks.sync_steps import run_as_task
from prefect import flow
from prefect.states import Failed
from pydantic import Field

from dotsync.sync.changed import Changes
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.registry import SyncRun, run_steps
from dotsync.sync.steps import options as defaults

#: What a sync run can be limited to: the UI's run form offers these as choices (the
#: registry's ENTITIES, spelled as a Literal for the form; a test keeps them equal).
Entity = Literal["contacts", "orders", "certificates", "carts", "products"]
ALL_ENTITIES: tuple[str, ...] = get_args(Entity)


@flow(name="sync", retries=1, retry_delay_seconds=5, persist_result=False)
def sync(
    entities: list[Entity] | None = None,
    dry_run: bool = False,
    bulk_threshold: Annotated[int, Field(ge=0)] | None = None,
    send_batch_size: Annotated[int, Field(ge=1, le=1000)] = defaults.SEND_BATCH_SIZE,
    import_max_bytes: Annotated[int, Field(ge=1_000, le=50_000_000)] = (
        defaults.IMPORT_MAX_BYTES),
    poll_interval: Annotated[float, Field(gt=0, le=300)] = defaults.POLL_INTERVAL,
    report_file: str | None = None,
    credentials_block: DotdigitalCredentials | str | None = None,
    preflight: bool = False,
    allow_sends: Annotated[int, Field(ge=0)] | None = None,
    account: str | None = None,
) -> Any:
    """One run of the sync (SPEC §4 ``dotsync sync``).

    The parameters are typed so that Prefect validates a run's values before it
    starts, and the UI's run form offers choices, bounds and a block picker; the
    descriptions below are what the form shows.

    Args:
        entities: Limit the run to some of contacts, orders, certificates, carts and
            products (default: all of them; carts and products only when their tables
            have rows).
        dry_run: Do everything up to the API calls and report what would be sent.
        bulk_threshold: Contacts and orders up to this many go as single calls, more
            as bulk imports (default: the DOTSYNC_CONTACT_BULK_THRESHOLD setting).
        send_batch_size: Order confirmations and certificates per triggered-campaign
            call.
        import_max_bytes: Largest bulk import body, in bytes (Dotdigital's cap is
            50 MB).
        poll_interval: Seconds between import status polls (Dotdigital advises
            5-30 s).
        report_file: Also write the run's Markdown report to this path.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name); default: DOTSYNC_CREDENTIALS_BLOCK, else
            DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD.
        preflight: Run every go-live check first and fail the run before any write
            when one fails (deployed runs set it).
        allow_sends: A run that would send more order confirmations and certificates
            than DOTSYNC_MAX_SENDS_PER_RUN sends none and fails; this lets this one
            run send up to this many instead.
        account: An [accounts.NAME] of dotsync.toml (default: DOTSYNC_ACCOUNT, else
            the single configuration).
    """
    chosen = tuple(entities or ALL_ENTITIES)
    unknown = sorted(set(chosen) - set(ALL_ENTITIES))
    if unknown:  # Prefect refuses these first; kept for a call that skips validation
        return Failed(message=f"unknown entities {unknown}; use {', '.join(ALL_ENTITIES)}")
    options = Options(
        dry_run=dry_run,
        bulk_threshold=shared_settings(account).contact_bulk_threshold
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
