"""The ``replay`` flow: queue rejected and failed records again, then sync them.

Reviewing failures in the UI ends with "fix the data or the cause, then send it
again". As a deployment, this flow makes that one click on the ``replay``
deployment's Run button: the ledger rows go back to ``pending`` (like
``dotsync replay``) and, unless ``run_sync`` is off, a ``sync`` subflow sends
them at once instead of waiting for the next scheduled run.

In-doubt sends are never replayed here: whether a certificate went out is for a
person to check (``dotsync resend certificate ID``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from dotsync.flows.blocks import DotdigitalCredentials
from dotsync.flows.common import current_run_id, load_settings
from dotsync.flows.events import emit_run_event, report_counts
from dotsync.flows.sync import sync
from prefect import flow, get_run_logger
from prefect.states import Completed, Failed

from dotsync.store import Ledger, Store
from dotsync.store.writer import ledger_writer

#: The ledger's entity names: the staged tables plus what dotsync derives from them
#: (``ENTITIES`` and ``DERIVED_ENTITIES``, spelled out so the UI's run form offers them).
LedgerEntity = Literal["customers", "orders", "certificates", "carts", "products",
                       "contacts", "confirmations", "erasures", "cart_enrolments",
                       "program_enrolments"]
REPLAYABLE: tuple[str, ...] = get_args(LedgerEntity)


@flow(name="replay", persist_result=False, validate_parameters=True)
def replay(
    entity: LedgerEntity | None = None,
    keys: list[str] | None = None,
    run_sync: bool = True,
    credentials_block: DotdigitalCredentials | str | None = None,
    account: str | None = None,
) -> Any:
    """Queue ``rejected`` and ``failed`` records again and (``run_sync``) sync them now.

    Without ``entity`` and ``keys``, every rejected and failed record is queued. The
    sync subflow is a full run, so it also sends whatever else is pending, exactly as
    the next scheduled run would. Returns (as the state's data)
    ``{"queued": n, "sync": <the sync report> | None}``.

    Args:
        entity: Limit the replay to one ledger entity (default: all of them).
        keys: Limit the replay to some record ids: order ids, certificate ids,
            customer ids, or contact e-mails.
        run_sync: Sync the queued records now instead of with the next scheduled run.
        credentials_block: The DotdigitalCredentials block with the API user (a
            block, or its name), passed on to the sync.
        account: An [accounts.NAME] of dotsync.toml, passed on to the sync.
    """
    logger = get_run_logger()
    if entity is not None and entity not in REPLAYABLE:
        return Failed(message=f"unknown entity {entity!r}; use one of {', '.join(REPLAYABLE)}")
    settings = load_settings(credentials_block, account)
    store = Store(settings.database_url)
    try:
        # One writer at a time; released before the sync below, which takes it itself.
        with ledger_writer(store.engine, flow="replay", run_id=current_run_id(),
                           on_wait=logger.warning):
            queued = Ledger(store).replay(entity, keys or None)
    finally:
        store.dispose()
    scope = entity or "all entities"
    if keys:
        scope += f", {len(keys)} key{'' if len(keys) == 1 else 's'}"
    what = f"{queued} record{'' if queued == 1 else 's'} queued again"
    logger.info("%s (%s)", what, scope)
    if not run_sync:
        emit_run_event("replay", "completed", settings, {"queued": queued})
        return Completed(
            message=f"{what}; they go out with the next sync run",
            data={"queued": queued, "sync": None},
        )
    state = sync(credentials_block=credentials_block, account=account, return_state=True)
    if state.is_failed():
        message = f"{what}, but the sync run failed: {state.message}"
        emit_run_event("replay", "failed", settings, {"queued": queued}, message=message)
        return Failed(message=message)
    report = state.result(raise_on_failure=False)
    summary = report if isinstance(report, dict) else None
    emit_run_event("replay", "completed", settings,
                   {"queued": queued, **report_counts(summary or {})})
    return Completed(
        message=f"{what} and synced: {state.message}",
        data={"queued": queued, "sync": summary},
    )
