"""The send cap: decided before the first confirmation or certificate goes out.

A run that would send more than DOTSYNC_MAX_SENDS_PER_RUN (or the run's
``allow_sends``) sends none of them and fails (:class:`RunFailed`) naming the number
and the way to allow it; nothing is written before that decision. A dry run notes
what the next run would send.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from dotsync import failpoints
from dotsync.sync.steps.certificates import Certificates
from dotsync.sync.steps.confirmations import Confirmations
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.errors import RunFailed
from dotsync.sync.transactional import EXPIRED, SendPlan, cap_exceeded


def check(ctx: RunContext, confirmations: Confirmations | None, certificates: Certificates,
          valid_certificates: pd.DataFrame | None) -> SendPlan:
    """Count what this run would send (the confirmations owed, when ``confirmations``
    runs, and the ready certificates), and hold it against the cap."""
    plan = SendPlan()
    for sends, skipped in (confirmations.chunks() if confirmations is not None else ()):
        plan.confirmations += len(sends)
        for _key, why in skipped:
            plan.skip(why)
    sorted_ = certificates.plan(valid_certificates)
    plan.certificates = len(sorted_.ready)
    plan.skip(EXPIRED, len(sorted_.expired))
    return decide(ctx, plan)


def decide(ctx: RunContext, plan: SendPlan, what: str = "the next run",
           fix: Callable[[str], str] = str) -> SendPlan:
    """Hold ``plan`` against the cap; note it in a dry run, else fail the run over it
    (``fix`` rewords the way to allow it for the command at hand)."""
    by_flag = ctx.options.allow_sends is not None
    allowed = ctx.options.allow_sends if by_flag else ctx.settings.max_sends_per_run
    problem = cap_exceeded(plan, int(allowed or 0), by_flag)
    ctx.send_plan = plan
    if ctx.options.dry_run:
        ctx.report.notes.append(f"dry run: {what} would send {plan.describe()}"
                                + (f"; it would fail: {problem}" if problem else ""))
        return plan
    failpoints.hit("after_send_cap")
    if problem:
        raise RunFailed(fix(problem))
    return plan
