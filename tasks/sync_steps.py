"""The steps of the sync flow as Prefect tasks (see ``dotsync.sync.registry``).

One task per step of :data:`~dotsync.sync.registry.SYNC_STEPS`, named after it; the
flow runs them in the registry's order. A step whose failures may be transient is
retried as a task (:func:`dotsync.tasks.retry.run_step`); the send cap never is.
"""

from __future__ import annotations

from typing import Any

from dotsync.tasks.retry import RETRY_OPTIONS, retry_transient, run_step
from prefect import task
from prefect.cache_policies import NO_CACHE

from dotsync.sync.backfill import BACKFILL_STEPS, Backfill, BackfillStep, backfill_steps
from dotsync.sync.engine import SyncEngine
from dotsync.sync.registry import SYNC_STEPS, Step, SyncRun


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


def _as_task(name: str) -> Any:
    """The Prefect task of the step ``name``; it runs the step the registry holds when
    it is called."""
    declared = SYNC_STEPS[name]

    def body(engine: SyncEngine, run: SyncRun) -> None:
        step = SYNC_STEPS[name]
        if step.retried:
            run_step(engine, lambda: step.run(engine, run))
        else:
            step.run(engine, run)

    body.__doc__ = declared.doc
    body.__name__ = body.__qualname__ = name.replace("-", "_")
    options = RETRY_OPTIONS if declared.retried else {}
    return task(name=name, cache_policy=NO_CACHE, persist_result=False, **options)(body)


#: The sync's steps as tasks, by step name.
SYNC_TASKS = {name: _as_task(name) for name in SYNC_STEPS}


def run_as_task(step: Step, engine: SyncEngine, run: SyncRun) -> None:
    """Run one step of the sync as its Prefect task."""
    SYNC_TASKS[step.name](engine, run)


def _backfill_task(step: BackfillStep) -> Any:
    """The Prefect task of one backfill step, retried when its failure is transient."""

    def body(backfill: Backfill, include_certificates: bool) -> None:
        run_step(backfill.engine, lambda: step.run(backfill, include_certificates))

    body.__doc__ = step.doc
    body.__name__ = body.__qualname__ = step.name.replace("-", "_")
    return task(name=step.name, cache_policy=NO_CACHE, persist_result=False,
                **RETRY_OPTIONS)(body)


#: The backfill's steps as tasks, by step name.
BACKFILL_TASKS = {step.name: _backfill_task(step) for step in BACKFILL_STEPS}


def run_backfill_steps(backfill: Backfill, include_certificates: bool) -> None:
    """The backfill's steps, each as its Prefect task, in the declared order."""
    for step in backfill_steps(include_certificates):
        BACKFILL_TASKS[step.name](backfill, include_certificates)
