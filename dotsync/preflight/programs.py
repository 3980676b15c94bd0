"""The programs check: every program the settings enrol into exists and is ``Active``.

Dotdigital refuses an enrolment into a program that is not ``Active`` with 422
``ERROR_PROGRAM_NOT_ACTIVE`` (``programs.yaml``), and into one that does not exist with
404: a cart or order-event journey configured wrongly would silently start for nobody.
The verdict itself is :mod:`dotsync.sync.automation_checks`' (pure functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dotsync.dotdigital import DotdigitalError
from dotsync.preflight.results import Check, _skipped
from dotsync.sync.automation_checks import configured_programs, program_problems

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


def check_programs(ctx: _Context) -> Check:
    """``DOTSYNC_CART_PROGRAM_ID`` and each program of ``DOTSYNC_PROGRAMS``."""
    name = "programs"
    configured = configured_programs(ctx.settings)
    if not configured:
        return Check(name, ok=True, detail="no program configured: nobody is enrolled "
                     "(DOTSYNC_CART_PROGRAM_ID, DOTSYNC_PROGRAMS)")
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"programs cannot be listed: {ctx.api_blocked}",
                        "fix the credentials and region first")
    try:
        programs = {p.id: p for p in ctx.client.list_programs()}
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"programs could not be listed: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    problems = program_problems(configured, programs)
    if problems:
        return Check(name, ok=False, detail="; ".join(p.message for p in problems),
                     fix="activate the program in Dotdigital (Automation > Programs), or "
                         "set " + ", ".join(sorted({p.setting.split()[0] for p in problems}))
                         + " to an Active program's id")
    ids = sorted(set(configured.values()))
    return Check(name, ok=True, detail=f"Active: program{'s' if len(ids) > 1 else ''} "
                 + ", ".join(str(i) for i in ids))
