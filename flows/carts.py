"""The ``carts`` flow: the carts step alone, for a schedule of its own.

An abandoned-cart journey is only as good as its timing: a cart idle for
``DOTSYNC_CART_IDLE_MINUTES`` should enrol its contact within minutes, not at the
next full sync. This flow runs only the registry's carts step (``push-carts``, a
task), so a 5-minute schedule costs what changed in the carts plus the carts whose
idle time came. Contacts still come from the ``sync`` deployment: a cart whose
contact is not in Dotdigital yet waits for it. Overlapping with a sync is safe (the
account's ledger has one writer at a time, and each enrolment is claimed first).
"""

from __future__ import annotations

from typing import Annotated, Any

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import run_engine
from dotsync.tasks.sync_steps import run_as_task
from prefect import flow
from pydantic import Field

from dotsync.sync.changed import Changes
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.registry import SyncRun, run_steps
from dotsync.sync.steps import options as defaults


@flow(name="carts", retries=1, retry_delay_seconds=5, persist_result=False)
def carts(
    dry_run: bool = False,
    poll_interval: Annotated[float, Field(gt=0, le=300)] = defaults.POLL_INTERVAL,
    report_file: str | None = None,
    credentials_block: DotdigitalCredentials | str | None = None,
    preflight: bool = False,
    account: str | None = None,
) -> Any:
    """Changed carts as CartInsight records; idle carts enrolled into the cart program.

    Args:
        dry_run: Do everything up to the API calls and report what would be sent.
        poll_interval: Seconds between import status polls (Dotdigital advises
            5-30 s).
        report_file: Also write the run's Markdown report to this path.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name); default: DOTSYNC_CREDENTIALS_BLOCK, else
            DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD.
        preflight: Run every go-live check first (among them: the cart program exists
            and is Active) and fail the run before any write when one fails
            (deployed runs set it).
        account: An [accounts.NAME] of dotsync.toml (default: DOTSYNC_ACCOUNT, else
            the single configuration).
    """
    options = Options(dry_run=dry_run, poll_interval=poll_interval, track_settled=False)

    def body(engine: SyncEngine) -> None:
        run_steps(engine, SyncRun(Changes(engine), ("carts",)), call=run_as_task)

    return run_engine("carts", options, body, credentials_block=credentials_block,
                      preflight=preflight, account=account, report_file=report_file)
