"""``dotsync serve``: the sync, backfill and replay deployments in one process.

The simplest way to run dotsync on a schedule is one long-running process on the
machine that can reach the staging store (Prefect's ``serve``): it registers the
deployments with the Prefect server, polls it for scheduled and triggered runs,
and runs each one in a subprocess. No work pool or worker is needed; the
``prefect.yaml`` at the project root is the other way (``prefect deploy --all`` onto
a process work pool served by ``prefect worker start``). Both define the same
deployments:

``sync``
    every 15 minutes by default (``--interval`` / ``DOTSYNC_SYNC_INTERVAL_MINUTES``,
    or a cron expression with ``--cron`` / ``DOTSYNC_SYNC_CRON``);
``backfill``
    no schedule; run it from the UI or the API with its parameters;
``replay``
    no schedule; the failures an operator reviewed, queued again and synced.
``consent``
    hourly: who unsubscribed or was suppressed in Dotdigital.
``reconcile``
    daily at 03:30 UTC: does Dotdigital still hold what the ledger says was sent?
``catalog``
    hourly: the sync flow limited to products (the stores' catalogues); the ``sync``
    deployment leaves products to it.
``carts``
    every 5 minutes: changed carts, and idle carts enrolled into the cart program.

Each deployment has a concurrency limit of 1 with the ``ENQUEUE`` strategy: a run
that would overlap a running one of the same deployment waits for it instead of
running alongside (a slow sync is never joined by the next scheduled one).

Stopping the process (Ctrl-C, SIGTERM) pauses the deployments' schedules, so runs
do not pile up while nothing is serving them; starting it again resumes them.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # Prefect is imported when the command runs, so `dotsync --help` stays fast
    from prefect.deployments.runner import RunnerDeployment

DEFAULT_INTERVAL_MINUTES = 15.0
INTERVAL_ENV = "DOTSYNC_SYNC_INTERVAL_MINUTES"
CRON_ENV = "DOTSYNC_SYNC_CRON"
TAGS = ["dotsync"]
CONSENT_INTERVAL_MINUTES = 60
#: Daily, at a quiet hour (UTC): a reconciliation reads back, it does not write.
RECONCILE_CRON = "30 3 * * *"
#: The carts deployment: an idle cart enrols its contact within 5 minutes of its time.
CARTS_INTERVAL_MINUTES = 5
CATALOG_INTERVAL_MINUTES = 60
#: Entities loaded by a deployment of their own (the sync flow limited to them, on its
#: own schedule); the ``sync`` deployment runs the others.
OWN_DEPLOYMENTS: dict[str, str] = {"products": "catalog", "carts": "carts"}


def sync_deployment_entities() -> list[str]:
    """What the scheduled ``sync`` deployment runs: every entity without a deployment
    of its own."""
    from dotsync.sync.registry import ENTITIES

    return [e for e in ENTITIES if e not in OWN_DEPLOYMENTS]


def build_deployments(
    interval_minutes: float | None = DEFAULT_INTERVAL_MINUTES,
    cron: str | None = None,
    credentials_block: str | None = None,
    account: str | None = None,
) -> list[RunnerDeployment]:
    """The seven deployments (sync, backfill, replay, consent, reconcile, catalog,
    carts), for :func:`prefect.serve`.

    ``cron`` wins over ``interval_minutes`` when both are given. The entrypoints are
    module paths (``dotsync.flows.sync.sync``), so the runs find the flows wherever the
    process was started, as long as dotsync is installed. ``credentials_block``
    becomes a default parameter of every deployment (visible and changeable in the
    UI); without it the flows take credentials from ``DOTSYNC_CREDENTIALS_BLOCK`` or
    the environment.

    With ``account`` (an ``[accounts.NAME]`` of ``dotsync.toml``), every deployment is
    that account's: named ``sync-NAME``, ``backfill-NAME``, …, tagged ``account:NAME``,
    and passing ``account`` to its runs, so one process can serve several accounts.
    """
    from dotsync.flows.backfill import backfill
    from dotsync.flows.carts import carts
    from dotsync.flows.consent import consent
    from dotsync.flows.reconcile import reconcile
    from dotsync.flows.replay import replay
    from dotsync.flows.sync import sync
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType

    params: dict[str, Any] = {}
    if credentials_block:
        params["credentials_block"] = credentials_block
    if account:
        params["account"] = account
    suffix = f"-{account}" if account else ""
    schedule: dict[str, Any] = (
        {"cron": cron} if cron
        else {"interval": timedelta(minutes=interval_minutes or DEFAULT_INTERVAL_MINUTES)}
    )
    common: dict[str, Any] = {
        "tags": [*TAGS, f"account:{account}"] if account else TAGS,
        "entrypoint_type": EntrypointType.MODULE_PATH,
        "parameters": params,
    }

    # Deployed sync and backfill runs pass the go-live checks first (dotsync preflight):
    # a failing check fails the run before anything is written.
    gated = {**common, "parameters": {**params, "preflight": True}}

    def one_at_a_time() -> ConcurrencyLimitConfig:
        return ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE")

    scheduled_sync = {**gated, "parameters": {
        **gated["parameters"], "entities": sync_deployment_entities()}}
    return [
        sync.to_deployment(
            f"sync{suffix}",
            **schedule,
            concurrency_limit=one_at_a_time(),
            description="Pending staged records into Dotdigital, on a schedule.",
            **scheduled_sync,
        ),
        backfill.to_deployment(
            f"backfill{suffix}",
            concurrency_limit=one_at_a_time(),
            description="A first load or a re-load of history, in chunks; run on demand.",
            **gated,
        ),
        replay.to_deployment(
            f"replay{suffix}",
            concurrency_limit=one_at_a_time(),
            description="Queue rejected and failed records again (entity, keys) and sync "
            "them now.",
            **common,
        ),
        consent.to_deployment(
            f"consent{suffix}",
            interval=timedelta(minutes=CONSENT_INTERVAL_MINUTES),
            concurrency_limit=one_at_a_time(),
            description="Read back who unsubscribed or was suppressed in Dotdigital.",
            **common,
        ),
        reconcile.to_deployment(
            f"reconcile{suffix}",
            cron=RECONCILE_CRON,
            concurrency_limit=one_at_a_time(),
            description="Compare the ledger with Dotdigital (missing, extra, different "
            "records), daily; run with repair=true to queue them for the next sync.",
            **common,
        ),
        sync.to_deployment(
            f"catalog{suffix}",
            interval=timedelta(minutes=CATALOG_INTERVAL_MINUTES),
            concurrency_limit=one_at_a_time(),
            description="Changed products into the stores' catalogue collections, hourly.",
            **{**gated, "parameters": {**gated["parameters"], "entities": ["products"]}},
        ),
        carts.to_deployment(
            f"carts{suffix}",
            interval=timedelta(minutes=CARTS_INTERVAL_MINUTES),
            concurrency_limit=one_at_a_time(),
            description="Changed carts into Dotdigital, and idle carts enrolled into the "
            "cart program, every 5 minutes.",
            **gated,
        ),
        # One extract-then-sync deployment per platform source in DOTSYNC_SOURCES.
        *_source_deployments(schedule, gated),
    ]


def _source_deployments(schedule: dict[str, Any], gated: dict[str, Any]) -> list[Any]:
    import os

    from dotsync.deployments.sources import SOURCES_ENV, source_deployments

    if not os.environ.get(SOURCES_ENV):
        return []
    return source_deployments(schedule, gated)


def _check_block(name: str) -> None:
    """Fail at start-up, not at the first scheduled run, when the block is missing."""
    from dotsync.deployments.credentials import DotdigitalCredentials

    try:
        DotdigitalCredentials.load(name)
    except ValueError as exc:
        raise click.UsageError(
            f"no DotdigitalCredentials block named {name!r} ({exc}); create it first "
            "(see docs/RUNNING.md)"
        ) from None


def _accounts(named: tuple[str, ...], every: bool) -> list[str | None]:
    """The accounts to serve: those named (or all), each checked; ``[None]`` for the
    single configuration (``dotsync --account NAME serve`` serves that one).

    "All" and a named account are found as ``accounts sync-limits`` finds them
    (:mod:`dotsync.deployments.known_accounts`): the local ``dotsync.toml`` and the
    server's ``dotsync-settings-NAME`` Variables, so a host with no file of its own can
    serve every account kept in Prefect."""
    import os

    from dotsync.deployments.known_accounts import account_settings, known_accounts
    from dotsync.flows.limits import prefect_client

    from dotsync.config import ConfigError

    try:
        if every:
            with prefect_client() as client:
                found = known_accounts(client)
            if [a.name for a in found] == [None]:
                raise ConfigError("--all-accounts: neither dotsync.toml ([accounts.NAME] "
                                  "tables) nor the Prefect Variables (dotsync-settings-NAME) "
                                  "name an account")
            for account in found:
                click.echo(f"dotsync: account {account.name}: settings from "
                           f"{account.source()}", err=True)
            return [a.name for a in found]
        chosen = list(named) or [os.environ.get("DOTSYNC_ACCOUNT") or None]
        for name in chosen:
            if name is not None:
                account_settings(name)  # names the known ones when unknown
        return chosen
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.command(name="serve")
@click.option(
    "--interval",
    "interval_minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_INTERVAL_MINUTES,
    show_default=True,
    envvar=INTERVAL_ENV,
    show_envvar=True,
    help="Minutes between scheduled sync runs.",
)
@click.option(
    "--cron",
    default=None,
    envvar=CRON_ENV,
    show_envvar=True,
    help="A cron expression for the sync schedule instead of an interval, e.g. '*/15 * * * *'.",
)
@click.option(
    "--credentials-block",
    default=None,
    envvar="DOTSYNC_CREDENTIALS_BLOCK",
    show_envvar=True,
    help="Name of a DotdigitalCredentials block to take the API credentials from "
    "(default: DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many flow runs at once in this process (default: Prefect's).",
)
@click.option(
    "--serve-account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Serve this account, an [accounts.NAME] of dotsync.toml or a Prefect Variable "
    "dotsync-settings-NAME (deployments sync-NAME, …); repeat for several accounts.",
)
@click.option("--all-accounts", is_flag=True,
              help="Serve every account: the [accounts.NAME] tables of dotsync.toml and the "
              "Prefect Variables dotsync-settings-NAME.")
def serve_command(
    interval_minutes: float,
    cron: str | None,
    credentials_block: str | None,
    limit: int | None,
    accounts: tuple[str, ...],
    all_accounts: bool,
) -> None:
    """Serve the sync (scheduled), backfill, replay and consent deployments until stopped.

    Needs PREFECT_API_URL pointing at a Prefect server (`prefect server start`);
    the runs use this process's environment (DOTSYNC_DATABASE_URL and the rest).
    """
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise click.UsageError(
            "PREFECT_API_URL is not set: start a Prefect server (`prefect server start`) "
            "and export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    chosen = _accounts(accounts, all_accounts)
    if credentials_block:
        _check_block(credentials_block)
    deployments = [d for account in chosen
                   for d in build_deployments(interval_minutes, cron, credentials_block,
                                              account)]
    plural = "" if interval_minutes == 1 else "s"
    every = f"cron {cron!r}" if cron else f"every {interval_minutes:g} minute{plural}"
    whose = "" if chosen == [None] else f" for {', '.join(str(a) for a in chosen)}"
    sources = [d.name for d in deployments if d.name.startswith("extract-")]
    also = f", and {', '.join(sources)}" if sources else ""
    click.echo(f"dotsync: serving sync ({every}), backfill, replay, consent, reconcile "
               f"and carts{whose}{also}", err=True)
    serve(*deployments, limit=limit)


if __name__ == "__main__":  # python -m dotsync.deployments.serve
    sys.exit(serve_command())
