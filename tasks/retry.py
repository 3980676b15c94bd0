"""Task-level retries for transient Dotdigital failures.

A step records every outcome in the ledger as it goes. When some records of a step
failed transiently (429, 5xx, timeouts that outlasted the client's own retries),
the task raises :class:`TransientFailures` while it has retries left; Prefect waits
with exponential back-off and runs it again, and the step picks up only what is not
settled yet. On the last attempt the failures stay recorded as ``failed`` and the
run completes: the next run retries them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prefect import Task
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff

from dotsync.dotdigital.errors import AuthenticationError, DotdigitalError
from dotsync.sync.engine import RunFailed, SyncEngine


class TransientFailures(RuntimeError):
    """Some records of a step failed transiently; the task is retried."""


def retry_transient(task: Task, task_run: Any, state: Any) -> bool:
    """Retry transient failures only: never bad data, credentials or bugs."""
    try:
        state.result()
    except TransientFailures:
        return True
    except (AuthenticationError, RunFailed):  # the same answer on every attempt
        return False
    except DotdigitalError as exc:
        return bool(exc.transient)
    except Exception:
        return False
    return False


#: Seconds before the first task retry (doubling after); ``DOTSYNC_TASK_RETRY_BACKOFF``.
BACKOFF_SECONDS = float(os.environ.get("DOTSYNC_TASK_RETRY_BACKOFF", "2"))

RETRY_OPTIONS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=BACKOFF_SECONDS),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}


def run_step(engine: SyncEngine, step: Callable[[], None]) -> None:
    """Run ``step``; while retries remain, turn its transient failures into a retry."""
    mark = engine.report.checkpoint()
    step()
    new = engine.report.problems[mark[0]:]
    failed = [p for p in new if p.state == "failed"]
    if not failed:
        return
    ctx = TaskRunContext.get()
    if ctx is None:
        return
    retries = ctx.task.retries or 0
    if ctx.task_run.run_count <= retries:
        engine.report.forget_failures_since(
            mark, waiting_too=not engine.options.track_settled)
        raise TransientFailures(
            f"{len(failed)} records failed transiently (first: {failed[0].entity} "
            f"{failed[0].key}: {failed[0].reason}); retrying"
        )
