"""The steps of the sync flow as Prefect tasks (see ``dotsync.sync.engine``)."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from dotsync.sync.engine import SyncEngine
from tasks.retry import RETRY_OPTIONS, run_step


@task(name="connect", cache_policy=NO_CACHE, persist_result=False)
def connect(engine: SyncEngine) -> None:
    """Credentials, region and campaign names, checked before anything is written."""
    engine.connect()


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


@task(name="send-order-confirmations", cache_policy=NO_CACHE, persist_result=False,
      **RETRY_OPTIONS)
def send_confirmations(engine: SyncEngine) -> None:
    run_step(engine, engine.send_confirmations)


@task(name="send-certificates", cache_policy=NO_CACHE, persist_result=False, **RETRY_OPTIONS)
def send_certificates(engine: SyncEngine, valid: pd.DataFrame) -> None:
    run_step(engine, lambda: engine.send_certificates(valid))
