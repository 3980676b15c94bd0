"""The ``consent`` flow: read back who unsubscribed or was suppressed in Dotdigital.

Deploy it on a schedule (hourly is plenty). It pages through Dotdigital's
suppressed-since and unsubscribed-since lists from the last watermark into the
``suppressions`` table of the staging store, which the source system can read and
the sync consults before sending any ``subscribed`` status.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import current_run_id, load_settings, make_client, no_flow_retry
from dotsync.flows.events import emit_run_event
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from dotsync import debuglog
from dotsync.dotdigital import errors as dd
from dotsync.store import Store
from dotsync.store.writer import ledger_writer
from dotsync.sync.consent import read_back


@flow(name="consent", retries=1, retry_delay_seconds=30, persist_result=False)
def consent(since: date | datetime | None = None,
            credentials_block: DotdigitalCredentials | str | None = None,
            account: str | None = None) -> Any:
    """Pull suppressions since the watermark (or ``since``).

    Args:
        since: Read back from this date or time (UTC when no zone is given) instead
            of the last watermark.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name); default: DOTSYNC_CREDENTIALS_BLOCK, else
            DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD.
        account: An [accounts.NAME] of dotsync.toml (default: DOTSYNC_ACCOUNT, else
            the single configuration).
    """
    logger = get_run_logger()
    settings = load_settings(credentials_block, account)
    store = Store(settings.database_url)
    start = _utc(since)
    try:
        with ledger_writer(store.engine, flow="consent", run_id=current_run_id(),
                           on_wait=logger.warning), make_client(settings) as client:
            result = read_back(client, store, since=start)
    except dd.AuthenticationError as exc:
        message = f"Dotdigital refused the API credentials (HTTP {exc.status})"
        logger.error("dotsync consent read-back failed: %s", message)
        debuglog.keep(f"consent read-back failed: {message}", exc)
        no_flow_retry()
        emit_run_event("consent", "failed", settings, {}, message=message)
        return Failed(message=message)
    except dd.DotdigitalError as exc:
        emit_run_event("consent", "failed", settings, {}, message=str(exc))
        return Failed(message=f"consent read-back failed: {exc}")
    summary = (f"{result.suppressed} suppressed and {result.unsubscribed} unsubscribed "
               f"contacts since {result.since.isoformat()}; {result.recorded} recorded in "
               "the suppressions table")
    create_markdown_artifact(
        key="dotsync-consent-report",
        markdown=f"# dotsync consent read-back\n\n{summary}.\n\nThe sync will not send "
                 "`subscribed` for these contacts unless the source's consent is newer.\n",
        description=summary,
    )
    logger.info(summary)
    emit_run_event("consent", "completed", settings, {
        "suppressed": result.suppressed, "unsubscribed": result.unsubscribed,
        "recorded": result.recorded})
    store.dispose()
    return Completed(message=summary, data={
        "since": result.since.isoformat(), "suppressed": result.suppressed,
        "unsubscribed": result.unsubscribed, "recorded": result.recorded})


def _utc(since: datetime | date | None) -> datetime | None:
    """``since`` as an aware UTC datetime (a date is its midnight, UTC)."""
    if since is None:
        return None
    if not isinstance(since, datetime):
        since = datetime.combine(since, time(), tzinfo=UTC)
    return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
