"""Prefect events for each dotsync run: ``dotsync.run.completed`` / ``dotsync.run.failed``.

Automations (``dotsync alerts install``) react to these: Prefect's triggers match event
names and resource labels, not payload numbers, so what an alert needs to decide is also
put on the resource as labels: ``dotsync.in-doubt`` (``true`` when the run left sends in
doubt) and ``dotsync.reject-percent`` (rejected records as a share of those the run
considered, in whole percent rounded up, so "above 10 %" is "11" to "100").

The resource is the Dotdigital account (its API user and regional endpoint: never the
password); the flow run is a related resource. The run's counts are the payload.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from prefect.events import emit_event
from prefect.runtime import flow_run

from dotsync.config import Settings

COMPLETED = "dotsync.run.completed"
FAILED = "dotsync.run.failed"
#: The entities whose counts a sync, backfill or replay reports.
REPORTED = ("contacts", "orders", "confirmations", "certificates")


def account_resource(settings: Settings | None, flow: str) -> dict[str, str]:
    user = (settings.api_user if settings else None) or "unknown"
    endpoint = _without_userinfo((settings.api_endpoint if settings else None) or "discovered")
    out = {
        "prefect.resource.id": f"dotsync.account.{user}",
        "prefect.resource.name": user,
        "dotsync.account": user,
        "dotsync.endpoint": str(endpoint),
        "dotsync.flow": flow,
    }
    if settings is not None and settings.account:  # an [accounts.NAME] of dotsync.toml
        out["dotsync.account-name"] = settings.account
    return out


def _without_userinfo(url: str) -> str:
    """The endpoint as scheme://host[:port]: nothing that could carry a credential."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url if "@" not in url else "unknown"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def report_counts(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers of a run report (``RunReport.as_dict``), flat and with totals."""
    out: dict[str, Any] = {}
    totals = {"considered": 0, "sent": 0, "rejected": 0, "failed": 0, "in_doubt": 0}
    for entity in REPORTED:
        counts = report.get(entity)
        if not isinstance(counts, dict):
            continue
        for name in totals:
            value = int(counts.get(name) or 0)
            out[f"{entity}_{name}"] = value
            totals[name] += value
    out.update(totals)
    for name in ("api_calls_total", "write_calls", "retries", "duration_seconds"):
        if name in report:
            out[name] = report[name]
    return out


def reject_percent(counts: dict[str, Any]) -> int:
    considered = int(counts.get("considered") or 0)
    rejected = int(counts.get("rejected") or 0)
    if considered <= 0 or rejected <= 0:
        return 0
    return min(100, math.ceil(100 * rejected / considered))


def emit_run_event(flow: str, status: str, settings: Settings | None,
                   counts: dict[str, Any], *, message: str | None = None) -> Any:
    """Emit the run's event; returns it (None when events are off). Never raises:
    an alerting problem must not fail the run it reports on."""
    try:
        resource = account_resource(settings, flow)
        resource["dotsync.in-doubt"] = "true" if int(counts.get("in_doubt") or 0) > 0 else "false"
        resource["dotsync.reject-percent"] = str(reject_percent(counts))
        related: list[dict[str, str]] = []
        run_id = flow_run.get_id()
        if run_id:
            related.append({"prefect.resource.id": f"prefect.flow-run.{run_id}",
                            "prefect.resource.role": "flow-run",
                            "prefect.resource.name": str(flow_run.get_name() or "")})
        payload: dict[str, Any] = {"flow": flow, "status": status, "counts": dict(counts)}
        if message:
            payload["message"] = message
        return emit_event(COMPLETED if status == "completed" else FAILED, resource=resource,
                          related=related, payload=payload)
    except Exception:  # pragma: no cover - best effort, logged by Prefect
        return None
