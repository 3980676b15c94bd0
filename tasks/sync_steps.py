"""The steps of the sync flow as Prefect tasks (see ``dotsync.sync.engine``)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from dotsync.sync.backfill import Backfill
from dotsync.sync.changed import Changes, sync_certificates, sync_contacts, sync_orders
from dotsync.sync.engine import SyncEngine
from tasks.retry import RETRY_OPTIONS, retry_transient, run_step


@task(name="connect", cache_policy=NO_CACHE, persist_result=False, retries=1,
      retry_delay_seconds=RETRY_OPTIONS["retry_delay_seconds"],
      retry_condition_fn=retry_transient)
def connect(engine: SyncEngine) -> None:
    """Credentials, region and campaign names, checked before anything is written.

    A transient answer (a 5xx outlasting the client's own retries) is tried once more;
    refused credentials never are (``retry_transient``), and fail the run with one line.
    """
    engine.connect()


@task(name="preflight", cache_policy=NO_CACHE, persist_result=False)
def preflight(engine: SyncEngine) -> None:
    """Go-live checks before anything is written; a failing check fails the run."""
    engine.preflight()


@task(name="push-contacts", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def push_contacts(engine: SyncEngine, changes: Changes) -> None:
    """Changed customers, merged by e-mail, as contacts: before any order or
    certificate is read."""
    run_step(engine, lambda: sync_contacts(engine, changes))


@task(name="push-orders", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def push_orders(engine: SyncEngine, changes: Changes) -> None:
    """Changed orders, chunk by chunk: validated, their guests' contacts first."""
    run_step(engine, lambda: sync_orders(engine, changes))


@task(name="send-order-confirmations", cache_policy=NO_CACHE, persist_result=False,
      **RETRY_OPTIONS)
def send_confirmations(engine: SyncEngine) -> None:
    run_step(engine, engine.send_confirmations)


@task(name="send-certificates", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def send_certificates(engine: SyncEngine, changes: Changes) -> None:
    """Changed certificates, chunk by chunk, exactly once."""
    run_step(engine, lambda: sync_certificates(engine, changes))


@task(name="backfill-contacts", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def backfill_contacts(backfill: Backfill, include_certificates: bool) -> None:
    """Every pending customer, merged by e-mail, and the guests' contacts: bulk only."""
    run_step(backfill.engine, lambda: backfill.push_contacts(include_certificates))


@task(name="backfill-orders", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def backfill_orders(backfill: Backfill) -> None:
    """Every pending order whose contact is in Dotdigital, through insight imports."""
    run_step(backfill.engine, backfill.push_orders)


@task(name="backfill-certificates", cache_policy=NO_CACHE, persist_result=False,
      **RETRY_OPTIONS)
def backfill_certificates(backfill: Backfill) -> None:
    """Pending certificates, exactly once (only when the backfill is asked to)."""
    run_step(backfill.engine, backfill.send_certificates)
