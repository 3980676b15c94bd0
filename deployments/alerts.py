"""``dotsync alerts install``: Prefect automations that tell someone when a run goes wrong.

Four automations, each sending through one of Prefect's notification blocks (a custom
webhook, Slack, Microsoft Teams, SendGrid e-mail, …):

``dotsync: run failed or crashed``
    Prefect's own ``prefect.flow-run.Failed`` / ``Crashed`` events of dotsync's flows
    (a crashed run cannot report anything itself);
``dotsync: sends in doubt``
    a ``dotsync.run.*`` event whose run left certificate or confirmation sends in doubt;
``dotsync: rejects above N %``
    a ``dotsync.run.*`` event whose run rejected more than N % of the records it considered;
``dotsync: no completed sync for N hours``
    a proactive trigger: no ``dotsync.run.completed`` event of the ``sync`` flow for an
    account within N hours of its last one (an account is watched from its first
    completed sync on; one alert per silence). Prefect's shortest window is 10 seconds.

Prefect's triggers match event names and resource labels only (Prefect's OSS server has
no metric triggers on event payloads), which is why the run events carry
``dotsync.in-doubt`` and ``dotsync.reject-percent`` labels (see :mod:`dotsync.flows.events`).

Idempotent: automations are found by name and updated in place; running ``install``
twice leaves the same four (duplicates of a name left by hand are removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import click

PREFIX = "dotsync: "
#: The flows whose failures alert.
FLOWS = ("sync", "backfill", "replay", "consent", "reconcile")
#: The webhook block ``--webhook`` creates (or updates).
WEBHOOK_BLOCK = "dotsync-alerts"

_RUN_BODY = (
    "{{ event.event }} for {{ event.resource['dotsync.flow'] }} on account "
    "{{ event.resource['dotsync.account'] }} ({{ event.resource['dotsync.endpoint'] }}): "
    "counts {{ event.payload['counts'] | tojson }}"
    "{% if event.payload['message'] %}; {{ event.payload['message'] }}{% endif %}"
)
_FAILED_BODY = ("Flow run {{ event.resource.name }} ({{ event.resource.id }}) ended "
                "{{ event.event }}: {{ event.payload | tojson }}")


#: Prefect refuses a proactive trigger whose ``within`` is shorter (``EventTrigger``'s
#: validator): the shortest "no completed sync" window that can be installed.
MIN_STALE_SECONDS = 10.0


@dataclass(frozen=True)
class AlertSettings:
    reject_percent: int = 10
    stale_hours: float = 2.0

    @property
    def stale_span(self) -> str:
        """The window in words: "2 hours", "90 minutes", "15 seconds"."""
        seconds = round(self.stale_hours * 3600, 3)
        if seconds >= 3600:
            return f"{self.stale_hours:g} hours"
        if seconds >= 60:
            return f"{seconds / 60:g} minutes"
        return f"{round(seconds):g} seconds"


def webhook_block(url: str) -> UUID:
    """A custom-webhook notification block posting ``{"subject", "body"}`` as JSON."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name=WEBHOOK_BLOCK, url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"})
    return block.save(WEBHOOK_BLOCK, overwrite=True)


def named_block(name: str) -> UUID:
    """The id of an existing notification block, named ``TYPE-SLUG/NAME`` (as ``prefect
    block ls`` shows it, e.g. ``slack-webhook/ops``) or by its name alone."""
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.core import Block
    from prefect.client.orchestration import get_client

    if "/" not in name:
        with get_client(sync_client=True) as client:
            found = [d for d in client.read_block_documents() if d.name == name]
        if len(found) != 1:
            raise click.UsageError(f"no single block named {name!r}; give it as TYPE/NAME "
                                   "(see `prefect block ls`)")
        name = f"{found[0].block_type.slug}/{name}"
    try:
        block = Block.load(name)
    except ValueError as exc:
        raise click.UsageError(f"no block {name!r}: {exc}") from None
    if not isinstance(block, NotificationBlock):
        raise click.UsageError(f"block {name!r} is not a notification block")
    assert block._block_document_id is not None
    return block._block_document_id


def build_automations(block_id: UUID, settings: AlertSettings) -> list[Any]:
    from dotsync.flows.events import COMPLETED, FAILED
    from prefect.automations import Automation
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    def notify(subject: str, body: str) -> list[Any]:
        return [SendNotification(block_document_id=block_id, subject=subject, body=body)]

    runs = {COMPLETED, FAILED}
    above = [str(p) for p in range(settings.reject_percent + 1, 101)]
    hours = settings.stale_hours
    span = settings.stale_span
    return [
        Automation(
            name=f"{PREFIX}run failed or crashed",
            description="A dotsync flow run ended Failed or Crashed.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow",
                               "prefect.resource.name": list(FLOWS)},
                posture=Posture.Reactive, threshold=1, within=timedelta(0)),
            actions=notify("dotsync: a run failed", _FAILED_BODY)),
        Automation(
            name=f"{PREFIX}sends in doubt",
            description="A run left certificate or confirmation sends in doubt: check them "
                        "(dotsync status) and resend deliberately if they did not go out.",
            trigger=EventTrigger(expect=runs, match={"dotsync.in-doubt": "true"},
                                 posture=Posture.Reactive, threshold=1, within=timedelta(0)),
            actions=notify("dotsync: sends in doubt", _RUN_BODY)),
        Automation(
            name=f"{PREFIX}rejects above {settings.reject_percent} %",
            description=f"A run rejected more than {settings.reject_percent} % of the "
                        "records it considered (dotsync rejects).",
            trigger=EventTrigger(expect=runs, match={"dotsync.reject-percent": above},
                                 posture=Posture.Reactive, threshold=1, within=timedelta(0)),
            actions=notify(f"dotsync: more than {settings.reject_percent} % rejected",
                           _RUN_BODY)),
        Automation(
            name=f"{PREFIX}no completed sync for {span}",
            description=f"No sync run of an account completed for {span}.",
            # Each completed sync opens a window (``after``) in which the next one is
            # expected: without ``after``, Prefect drops an account's window as soon as
            # one event has met the threshold and never opens another, so the alert
            # would never fire for an account that had synced once.
            trigger=EventTrigger(
                after={COMPLETED}, expect={COMPLETED}, match={"dotsync.flow": "sync"},
                for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                within=timedelta(hours=hours)),
            actions=notify(f"dotsync: no completed sync for {span}",
                           "No dotsync.run.completed event of the sync flow for account "
                           "{{ event.resource['dotsync.account'] }} in the last "
                           f"{span}.")),
    ]


def install(block_id: UUID, settings: AlertSettings) -> list[tuple[str, str]]:
    """Create or update each automation by name; [(name, "created" | "updated")].

    Automations of an earlier install whose name changed with a setting (the share or the
    hours) are removed, so only the current four remain.
    """
    from prefect.client.orchestration import get_client

    wanted = build_automations(block_id, settings)
    names = {a.name for a in wanted}
    done: list[tuple[str, str]] = []
    with get_client(sync_client=True) as client:
        existing = [a for a in client.read_automations() if a.name.startswith(PREFIX)]
        for stale in [a for a in existing if a.name not in names]:
            client.delete_automation(stale.id)
        for automation in wanted:
            same = sorted((a for a in existing if a.name == automation.name),
                          key=lambda a: str(a.id))
            if same:
                automation.id = same[0].id
                automation.update()
                for extra in same[1:]:
                    client.delete_automation(extra.id)
                done.append((automation.name, "updated"))
            else:
                automation.create()
                done.append((automation.name, "created"))
    return done


@click.group("alerts")
def alerts_command() -> None:
    """Prefect automations that notify when runs fail or go wrong."""


@alerts_command.command("install")
@click.option("--webhook", default=None, metavar="URL",
              help="Post alerts as JSON {subject, body} to this URL (creates the "
                   f"{WEBHOOK_BLOCK!r} custom-webhook block).")
@click.option("--block", default=None, metavar="NAME",
              help="An existing Prefect notification block (slack-webhook/NAME, "
                   "sendgrid-email/NAME, …).")
@click.option("--reject-percent", type=click.IntRange(0, 99), default=10, show_default=True,
              help="Alert when a run rejects more than this share of its records.")
@click.option("--stale-hours", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Alert when no sync completed for this many hours "
              f"(at least {MIN_STALE_SECONDS:g} seconds: Prefect's shortest proactive "
              "window).")
def install_command(webhook: str | None, block: str | None, reject_percent: int,
                    stale_hours: float) -> None:
    """Create (or update) dotsync's automations on the Prefect server (idempotent)."""
    import os

    if (webhook is None) == (block is None):
        raise click.UsageError("give exactly one of --webhook URL or --block NAME")
    if stale_hours * 3600 < MIN_STALE_SECONDS - 1e-6:
        raise click.BadParameter(
            f"{stale_hours:g} hours is {stale_hours * 3600:.3g} seconds; Prefect's proactive "
            f"triggers need at least {MIN_STALE_SECONDS:g} seconds", param_hint="--stale-hours")
    if not os.environ.get("PREFECT_API_URL"):
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            raise click.UsageError("automations live on a Prefect server: set PREFECT_API_URL "
                                   "(see docs/RUNNING.md)")
    block_id = webhook_block(webhook) if webhook else named_block(str(block))
    for name, what in install(block_id, AlertSettings(reject_percent, stale_hours)):
        click.echo(f"{what:8} {name}")
