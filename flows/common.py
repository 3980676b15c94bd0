"""What every dotsync flow needs: settings, the store, a client, and one way to finish a run.

Run bookkeeping (``record_run``, ``last_run``) is the store's: :mod:`dotsync.store.runs`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.events import emit_run_event, report_counts
from dotsync.flows.logs import bridge
from dotsync.tasks.report import publish_report
from dotsync.tasks.sync_steps import connect
from dotsync.tasks.sync_steps import preflight as preflight_task
from prefect import get_run_logger
from prefect.runtime import deployment, flow_run
from prefect.states import Completed, Failed, State

from dotsync import debuglog
from dotsync.config import ConfigError, Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.dotdigital.errors import AuthenticationError
from dotsync.progress import ProgressLine
from dotsync.store import Store
from dotsync.store.runs import record_run
from dotsync.store.writer import ledger_writer
from dotsync.sync.engine import CredentialsRefused, Options, RunFailed, SyncEngine


def load_settings(credentials_block: DotdigitalCredentials | str | None = None,
                  account: str | None = None) -> Settings:
    """Settings from the environment / dotsync.toml (for ``account``, an
    ``[accounts.NAME]`` of the file, when given; the Prefect Variables
    ``dotsync-settings[-NAME]`` instead of the file when they exist), with the API
    credentials taken from a ``DotdigitalCredentials`` block: the block itself (a run
    form's block picker, which Prefect loads before the flow starts), or one named by
    the deployment's ``credentials_block`` parameter, else ``DOTSYNC_CREDENTIALS_BLOCK``
    in the account's table or the environment; and the staging database URL from the
    account's ``dotsync-database-url`` Secret block when it exists
    (:mod:`dotsync.flows.shared_config`)."""
    from dotsync.flows.shared_config import shared_settings

    # The Prefect Variables' settings and the account's database URL from its Secret
    # block, when they exist.
    settings = shared_settings(account)
    if isinstance(credentials_block, DotdigitalCredentials):
        return credentials_block.apply(settings)
    name = credentials_block or settings.credentials_block
    if name:
        settings = DotdigitalCredentials.load(name).apply(settings)
    return settings


def no_flow_retry() -> None:
    """Let this flow run fail without its flow-level retry.

    A flow's retries are for a run that stopped half-way (the ledger lets the retry
    resume); refused credentials fail the same way on every attempt, so retrying only
    delays the message. Prefect decides a flow retry on its server from the run's
    ``empirical_policy``: with its retries at 0, the run fails at once.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    policy = ctx.flow_run.empirical_policy
    policy.retries = 0
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run_id=ctx.flow_run.id, empirical_policy=policy)
    except Exception:  # the run still fails; at worst it is retried once, as before
        get_run_logger().debug("could not turn off the flow retry", exc_info=True)


def current_run_id() -> str:
    run_id = flow_run.get_id()
    if run_id:
        return str(run_id)
    import uuid

    return uuid.uuid4().hex


def make_client(settings: Settings, **overrides: Any) -> DotdigitalClient:
    """The run's client, on the account's shared API budget (:mod:`dotsync.flows.limits`) when
    its Prefect limits exist: calls and imports in flight counted across workers."""
    from dotsync.flows.limits import outside_limits

    shared, _holder, line = outside_limits(settings)
    logging.getLogger("dotsync.limits").info(line)
    return DotdigitalClient.from_settings(settings, **{**shared, **overrides})


def run_engine(
    flow_name: str,
    options: Options,
    body: Callable[[SyncEngine], None],
    *,
    credentials_block: DotdigitalCredentials | str | None = None,
    report_file: str | None = None,
    preflight: bool = False,
    account: str | None = None,
) -> State:
    """:func:`_run_engine` as the account ledger's one writer (:mod:`dotsync.store.writer`):
    a run that finds another sync, backfill, replay or consent of the account writing
    the ledger waits for it, and says so in its log."""
    bridge()  # dotsync.* records (429 waits, retries) in the run's logs
    settings = load_settings(credentials_block, account)
    store = Store(settings.database_url)
    options = replace(options, deployed=deployment.get_id() is not None)
    with ledger_writer(store.engine, flow=flow_name, run_id=current_run_id(),
                       on_wait=get_run_logger().warning):
        return _run_engine(flow_name, options, body, settings, store,
                           report_file=report_file, preflight=preflight)


def _run_engine(
    flow_name: str,
    options: Options,
    body: Callable[[SyncEngine], None],
    settings: Settings,
    store: Store,
    *,
    report_file: str | None = None,
    preflight: bool = False,
) -> State:
    """Set a run up, run ``body``, and finish it the same way for every flow.

    Settings, store and client are built here; ``connect`` checks credentials, region
    and campaigns before anything is written, and with ``preflight`` (what deployed
    runs use) every go-live check of ``dotsync preflight`` must pass first. A run that
    cannot work at all ends ``Failed`` with one clear message (and its report);
    otherwise it ends
    ``Completed`` whatever was rejected, with the report as the state's data.
    """
    logger = get_run_logger()
    client = None
    engine: SyncEngine | None = None
    try:
        try:
            client = None if options.dry_run else make_client(settings)
        except ValueError as exc:  # no API user or password: a configuration error
            raise ConfigError(str(exc)) from None
        engine = SyncEngine(store, settings, client, run_id=current_run_id(), options=options,
                            flow=flow_name)
        connect(engine)
        if preflight and not options.dry_run:
            preflight_task(engine)
        # Records settled, on the terminal (a backfill's body shows rows read instead).
        progress = ProgressLine(f"{flow_name}: settled", unit="records")
        engine.on_progress = progress.add
        try:
            body(engine)
        finally:
            progress.close()
    except (RunFailed, AuthenticationError) as exc:
        message = str(exc)
        if isinstance(exc, AuthenticationError):  # credentials revoked during the run
            message = (f"Dotdigital refused the API credentials during the run (HTTP "
                       f"{exc.status}): check DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD")
        if engine is not None:
            report = engine.finish("failed", message)
            record_run(store, report)
            publish_report(report)
        logger.error("dotsync %s run failed: %s", flow_name, message)
        emit_run_event(flow_name, "failed", settings,
                       report_counts(engine.report.as_dict()) if engine is not None else {},
                       message=message)
        if isinstance(exc, CredentialsRefused | AuthenticationError):
            debuglog.keep(f"{flow_name} run failed: {message}", exc)
            no_flow_retry()
        return Failed(message=message)
    except ConfigError as exc:  # configuration (e.g. no API user): nothing was sent
        logger.error("dotsync %s run failed: %s", flow_name, exc)
        emit_run_event(flow_name, "failed", settings, {}, message=f"configuration error: {exc}")
        return Failed(message=f"configuration error: {exc}")
    except Exception as exc:
        # A bug or an outage, not configuration: the run's event says it failed, and the
        # exception propagates so the run fails with its traceback in the run's logs.
        emit_run_event(flow_name, "failed", settings,
                       report_counts(engine.report.as_dict()) if engine is not None else {},
                       message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if client is not None:
            client.close()
    report = engine.finish("completed")
    record_run(store, report)
    publish_report(report)
    if report_file:
        Path(report_file).write_text(report.to_markdown(), encoding="utf-8")
    logger.info(report.log_line())
    if not options.dry_run:
        emit_run_event(flow_name, "completed", settings, report_counts(report.as_dict()))
    store.dispose()
    return Completed(message=report.log_line(), data=report.as_dict())
