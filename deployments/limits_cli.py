"""``dotsync accounts sync-limits``: each account's shared API budget on the Prefect server.

It talks to a Prefect server and installs an automation, so it lives on the Prefect side
and is added to the ``accounts`` group by :mod:`dotsync.deployments.cli`; the plain
``dotsync accounts`` (listing) stays in :mod:`dotsync.accounts_cli`.
"""

from __future__ import annotations

import click

from dotsync.config import ConfigError


@click.command(name="sync-limits")
def sync_limits_command() -> None:
    """Create or resize each account's shared API budget on the Prefect server.

    The accounts are those of the local dotsync.toml and of the server's Prefect
    Variables dotsync-settings-NAME (an account's Variable wins over its table, as for
    its runs). Three global concurrency limits per account NAME (``default`` when
    neither names an account): dotsync-calls-NAME (a rate limit of the account's
    DOTSYNC_CALLS_PER_MINUTE, else Dotdigital's lowest tier, 35), and
    dotsync-contact-imports-NAME (25) / dotsync-insight-imports-NAME (5) in flight.
    Also installs the automation that marks a run whose heartbeats stopped
    Crashed after three missed heartbeats (deployments/crash_detection.py), so a dead
    worker's run does not hold the account up: run it with the workers'
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY (Prefect's default: 180 s). Idempotent: run it
    again after changing a setting.
    """
    # Prefect is imported when the command runs, so `dotsync --help` stays quick.
    from dotsync.deployments.crash_detection import NAME, default_within, install_crash_detection
    from dotsync.deployments.known_accounts import known_accounts
    from dotsync.flows.limits import AccountLimits, prefect_client, sync_limits

    with prefect_client() as client:
        try:
            accounts = known_accounts(client)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        for account in accounts:
            if account.name is not None:
                click.echo(f"account {account.name}: settings from {account.source()}")
        wanted = [AccountLimits.of(account.settings) for account in accounts]
        for name, what in sync_limits(client, wanted):
            click.echo(f"{name}: {what}")
        within = default_within()
        click.echo(f"automation {NAME!r}: {install_crash_detection(client, within)} "
                   f"(Crashed after {within.total_seconds():g} s without a heartbeat)")
