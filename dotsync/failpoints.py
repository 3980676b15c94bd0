"""Named points where a test may kill the process, to prove crash safety.

``DOTSYNC_FAILPOINT=name[:n]`` makes the n-th time (default the first) the code
passes ``hit("name")`` kill this process with SIGKILL, exactly as an operator's
``kill -9`` or the OOM killer would: no ``finally`` blocks, no flushing. Unset (the
normal case) a hit is one dictionary lookup. The points sit where a crash is the
most dangerous: between a send and its ledger write, between an import's submission
and its report, between a claim and its send.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

POINTS = (
    "after_claim",          # intent committed, send not yet made
    "after_send",           # Dotdigital accepted the send; outcome not yet recorded
    "after_import_submit",  # an import is running; nothing of it recorded
    "after_import_report",  # its report read; outcomes not yet recorded
    "after_settle",         # a batch of outcomes committed
    "after_warnings",       # a validation's warnings committed, nothing sent yet
    "after_confirmations_enabled",  # the "confirmations enabled at" moment written
    "after_send_cap",       # the send cap decided; no confirmation or certificate sent yet
    "after_collection_created",  # a new account's collection made; no record in it yet
    "migrate_copy",         # dotsync migrate: a chunk written to the target, not committed
    "after_change_read",    # a chunk of changed records read; nothing of it processed
    "before_mark",          # a step settled what it read; its change mark not yet moved
    "after_mark",           # the change mark moved
    "after_enrol_claim",    # a program enrolment claimed (in doubt), not yet made
    "after_enrol",          # Dotdigital accepted an enrolment; outcome not yet recorded
)

#: Callables a test runs at a point (``hooks["after_change_read"] = commit_a_change``):
#: to make something happen at an exact moment of a run, deterministically.
hooks: dict[str, Callable[[], None]] = {}

_counts: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    raw = os.environ.get("DOTSYNC_FAILPOINT")
    if not raw:
        return None
    name, _, nth = raw.partition(":")
    return name, int(nth or 1)


def hit(name: str) -> None:
    hook = hooks.get(name)
    if hook is not None:
        hook()
    target = _target()
    if target is None or target[0] != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
