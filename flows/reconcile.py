"""The ``reconcile`` flow: does Dotdigital still hold what the ledger says was sent?

Deployed daily (``dotsync serve``, ``prefect.yaml``). A thin wrapper over
:mod:`dotsync.reconcile`: it reads back (within ``max_calls``), publishes what it found
as artifacts (a Markdown summary and a table of the records, e-mails masked), and with
``repair`` queues the missing and different records for the next sync.
"""

from __future__ import annotations

from typing import Annotated, Any

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import current_run_id, load_settings, make_client, no_flow_retry
from dotsync.flows.events import emit_run_event
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed
from pydantic import Field

from dotsync import debuglog
from dotsync.dotdigital import errors as dd
from dotsync.progress import ProgressLine
from dotsync.reconcile import ReconcileOptions, ReconcileResult
from dotsync.reconcile import reconcile as run_reconcile
from dotsync.reconcile import repair as queue_repairs
from dotsync.store import Store
from dotsync.store.writer import ledger_writer

DEFAULT_MAX_CALLS = 1000
DEFAULT_SAMPLE = 100


def publish(result: ReconcileResult) -> None:
    """The report as artifacts: keyed, so the UI keeps one version per run."""
    create_markdown_artifact(key="dotsync-reconcile-report", markdown=result.to_markdown(),
                             description=result.summary_line())
    rows = result.table_rows()
    if rows:
        create_table_artifact(key="dotsync-reconcile-findings", table=rows,
                              description=f"first {len(rows)} of {result.total} records")


@flow(name="reconcile", persist_result=False, validate_parameters=True)
def reconcile(
    full: bool = False,
    repair: bool = False,
    max_calls: Annotated[int, Field(ge=1, le=1_000_000)] = DEFAULT_MAX_CALLS,
    sample: Annotated[int, Field(ge=0, le=100_000)] = DEFAULT_SAMPLE,
    page_size: Annotated[int, Field(ge=1, le=1000)] = 1000,
    credentials_block: DotdigitalCredentials | str | None = None,
    account: str | None = None,
) -> Any:
    """Compare the ledger with Dotdigital: missing, extra and different records.

    Returns the report (``dotsync reconcile --json``).

    Args:
        full: Read every contact and insight record back, instead of those modified
            since the last reconciliation plus a sample of older ones.
        repair: Queue the missing and different records for the next sync (as the
            account ledger's one writer, waiting for a sync that holds it).
        max_calls: The most API calls the reconciliation may make.
        sample: Older records read back per entity, at random (without full).
        page_size: Records per page read back.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name); default: DOTSYNC_CREDENTIALS_BLOCK, else
            DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD.
        account: An [accounts.NAME] of dotsync.toml (default: DOTSYNC_ACCOUNT, else
            the single configuration).
    """
    logger = get_run_logger()
    settings = load_settings(credentials_block, account)
    store = Store(settings.database_url)
    # Records checked, on the terminal (quiet when not a TTY, or with --json).
    line = ProgressLine("reconcile: checked", unit="records")
    options = ReconcileOptions(full=full, sample=sample, max_calls=max_calls,
                               page_size=page_size, on_progress=line.update)
    try:
        with make_client(settings) as client:
            result = run_reconcile(store, settings, client, options)
        if repair:
            with ledger_writer(store.engine, flow="reconcile", run_id=current_run_id(),
                               on_wait=logger.warning):
                result.queued = queue_repairs(store, result.findings)
    except dd.AuthenticationError as exc:
        message = f"Dotdigital refused the API credentials (HTTP {exc.status})"
        debuglog.keep(f"reconcile failed: {message}", exc)
        no_flow_retry()
        return _failed(settings, message)
    except dd.DotdigitalError as exc:
        return _failed(settings, f"reconciliation failed: {exc}")
    finally:
        line.close()
        store.dispose()
    publish(result)
    summary = result.summary_line()
    logger.info("dotsync reconcile: %s", summary)
    data = result.as_dict()
    emit_run_event("reconcile", "completed", settings, _event_counts(result))
    return Completed(message=summary, data=data)


def _failed(settings: Any, message: str) -> Any:
    get_run_logger().error("dotsync reconcile failed: %s", message)
    emit_run_event("reconcile", "failed", settings, {}, message=message)
    return Failed(message=message)


def _event_counts(result: ReconcileResult) -> dict[str, Any]:
    counts: dict[str, Any] = {f"{e}_{k}": getattr(t, k) for e, t in result.tallies.items()
                              for k in ("checked", "missing", "extra", "different")}
    counts.update(found=result.total, api_calls=result.api_calls, complete=result.complete,
                  queued=sum((result.queued or {}).values()))
    return counts
