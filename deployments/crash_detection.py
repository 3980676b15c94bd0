"""Failover: a run whose worker died is marked ``Crashed``, so the account's next run
can go ahead on another worker.

A flow run's process sends ``prefect.flow-run.heartbeat`` events every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180 by default; at least 30). When a
host dies, or its worker and flow-run processes are killed, the heartbeats stop but
the run stays ``Running`` for ever: it would hold its deployment's one-run limit and
every later scheduled run of it would queue behind it. Prefect's open-source server
has no built-in rule for this; Prefect's documented answer ("detect zombie flows") is
this automation: a run that sent a heartbeat and then neither another one nor a final
state within ``within`` is set to ``Crashed``. The ledger lock (a database lock) and
the import slots (leases) free themselves; the next run finishes the work.

``within`` is three heartbeats of the frequency the workers use, read from the
installing environment's ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` (so run ``sync-limits``
with the workers' value): shorter, and a healthy run between two heartbeats would be
marked Crashed while it still works.

Installed by ``dotsync accounts sync-limits`` (idempotent), with the other pieces a
deployment over several workers needs. Its name has its own prefix so that
``dotsync alerts install``, which owns the ``dotsync: `` automations, leaves it alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

NAME = "dotsync-failover: mark runs whose heartbeats stopped crashed"
#: Silence after which a run counts as dead, in heartbeats.
MISSED_HEARTBEATS = 3


def heartbeat_seconds() -> int | None:
    """The heartbeat period of this environment's Prefect settings (None: off)."""
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency


def default_within() -> timedelta:
    """Three heartbeats of this environment's period (of Prefect's 180 s by default)."""
    return timedelta(seconds=MISSED_HEARTBEATS * (heartbeat_seconds() or 180))


def crash_automation(within: timedelta | None = None) -> Any:
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    within = within or default_within()
    return Automation(
        name=NAME,
        description=(f"A flow run that stopped sending heartbeats for {within.total_seconds():g}"
                     " s (its worker or host died) is set Crashed, freeing its deployment "
                     "for the next run. Made for workers whose "
                     "PREFECT_FLOWS_HEARTBEAT_FREQUENCY is a third of that."),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive, threshold=1, within=within),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED,
            message=f"no heartbeat for {within.total_seconds():g} s: its worker is gone")],
    )


def install_crash_detection(client: Any, within: timedelta | None = None) -> str:
    """Create the automation, or update it in place; ``"created"`` or ``"updated"``."""
    automation = crash_automation(within)
    same = sorted((a for a in client.read_automations() if a.name == NAME),
                  key=lambda a: str(a.id))
    if not same:
        automation.create()
        return "created"
    automation.id = same[0].id
    automation.update()
    for extra in same[1:]:
        client.delete_automation(extra.id)
    return "updated"
