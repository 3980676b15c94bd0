"""How many transactional e-mails the next run would send, without sending anything.

``dotsync preflight`` prints it beside its checks (and ``dotsync sync --dry-run`` notes
it): the sync's own steps run as a dry run (no client, nothing written), so the count
follows exactly the rules the next run applies (README, "Transactional e-mails").
"""

from __future__ import annotations

from typing import Any

from dotsync.config import Settings
from dotsync.store import Store
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.transactional import SendPlan


def forecast_sends(settings: Settings, store: Store) -> SendPlan:
    """The order confirmations and certificates the next sync run would send."""
    from dotsync.sync.run import run_sync

    engine = SyncEngine(store, settings, None, options=Options(
        dry_run=True, bulk_threshold=settings.contact_bulk_threshold))
    run_sync(engine)
    return engine.send_plan or SendPlan()


def forecast_line(plan: SendPlan, settings: Settings) -> str:
    """One informational line for the preflight checklist."""
    over = (f"; more than DOTSYNC_MAX_SENDS_PER_RUN ({settings.max_sends_per_run}): that "
            f"run would send none and fail until allowed (dotsync sync --allow-sends "
            f"{plan.total})" if plan.total > settings.max_sends_per_run else "")
    return f"ℹ next run would send {plan.describe()}{over}"


def forecast_dict(plan: SendPlan, settings: Settings) -> dict[str, Any]:
    return {"confirmations": plan.confirmations, "certificates": plan.certificates,
            "skipped": dict(plan.skipped), "max_sends_per_run": settings.max_sends_per_run}
