"""The steps of the sync flow as Prefect tasks (see ``dotsync.sync.engine``)."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from dotsync.sync.backfill import Backfill
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


@task(name="extract-and-validate", cache_policy=NO_CACHE, persist_result=False)
def extract_and_validate(engine: SyncEngine, entity: str) -> pd.DataFrame:
    """Pending orders or certificates, checked against their contract.

    Rejected rows are written to the ledger with their reasons; the valid rows come
    back, normalised, for the steps after the contacts.
    """
    pending = engine.extract(entity)
    if entity == "orders":
        return engine.validate_orders(pending)
    return engine.validate_certificates(pending)


@task(name="push-contacts", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def push_contacts(
    engine: SyncEngine, dependants: list[str], include_customers: bool = True
) -> None:
    """Changed customers (merged by e-mail) and the contacts that orders and
    certificates need, ahead of them. Without ``include_customers`` only the
    e-mail-only contacts of guests and recipients are pushed."""

    def step() -> None:
        pending = engine.extract("customers")
        if not include_customers:
            pending = pending.iloc[0:0]
        engine.push_contacts(engine.plan_contacts(pending, dependants))

    run_step(engine, step)


@task(name="push-orders", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def push_orders(engine: SyncEngine, valid: pd.DataFrame) -> None:
    run_step(engine, lambda: engine.push_orders(valid))


@task(name="check-send-cap", cache_policy=NO_CACHE, persist_result=False)
def check_send_cap(engine: SyncEngine, valid_certificates: pd.DataFrame | None,
                   confirmations: bool = True) -> None:
    """How many confirmations and certificates this run would send; more than the cap
    fails the run before the first one (never retried: the answer would not change)."""
    engine.check_send_cap(valid_certificates, confirmations)


@task(name="send-order-confirmations", cache_policy=NO_CACHE, persist_result=False,
      **RETRY_OPTIONS)
def send_confirmations(engine: SyncEngine) -> None:
    run_step(engine, engine.send_confirmations)


@task(name="send-certificates", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def send_certificates(engine: SyncEngine, valid: pd.DataFrame) -> None:
    run_step(engine, lambda: engine.send_certificates(valid))


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
