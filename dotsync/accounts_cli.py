"""``dotsync accounts``: the Dotdigital accounts ``dotsync.toml`` describes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import click

from dotsync.accounts import account_tables
from dotsync.config import ConfigError, Settings, config_path


def _database(url: str) -> str:
    """The URL with any password masked, for listing."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: preflight says so; list it as given
        return url


def describe_accounts(toml_path: Path | None = None) -> list[dict[str, Any]]:
    """One entry per ``[accounts.NAME]``: its name, endpoint, API user, database, region."""
    path = toml_path or config_path()
    if not path.is_file():
        return []
    try:
        names = sorted(account_tables(tomllib.loads(path.read_text(encoding="utf-8"))))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out = []
    for name in names:
        s = Settings.from_env(toml_path=path, account=name)
        out.append({"account": name, "api_user": s.api_user or None,
                    "api_endpoint": s.api_endpoint, "database": _database(s.database_url),
                    "default_region": s.default_region})
    return out


@click.group(name="accounts")
def accounts_command() -> None:
    """The Dotdigital accounts of dotsync.toml ([accounts.NAME] tables)."""


@accounts_command.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_command(as_json: bool) -> None:
    """List the configured accounts (passwords never shown)."""
    try:
        accounts = describe_accounts()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(accounts, indent=2))
        return
    if not accounts:
        click.echo("no [accounts.NAME] tables in dotsync.toml: one configuration "
                   "(the environment and the file's top level)")
        return
    for a in accounts:
        click.echo(f"{a['account']}: {a['api_user'] or '(no API user)'} · "
                   f"{a['api_endpoint'] or 'endpoint discovered'} · {a['database']}")


@accounts_command.command(name="sync-limits")
def sync_limits_command() -> None:
    """Create or resize each account's shared API budget on the Prefect server.

    Three global concurrency limits per account NAME (``default`` without
    [accounts.NAME] tables): dotsync-calls-NAME (a rate limit of the account's
    DOTSYNC_CALLS_PER_MINUTE, else Dotdigital's lowest tier, 35), and
    dotsync-contact-imports-NAME (25) / dotsync-insight-imports-NAME (5) in flight.
    Also installs the automation that marks a run whose heartbeats stopped
    Crashed after three missed heartbeats (deployments/crash_detection.py), so a dead
    worker's run does not hold the account up: run it with the workers'
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY (Prefect's default: 180 s). Idempotent: run it
    again after changing a setting.
    """
    # Prefect is imported by this command only (it talks to the Prefect server).
    from deployments.crash_detection import NAME, default_within, install_crash_detection
    from flows.limits import AccountLimits, prefect_client, sync_limits

    try:
        names: list[str | None] = [a["account"] for a in describe_accounts()] or [None]
        wanted = [AccountLimits.of(Settings.from_env(account=name)) for name in names]
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    with prefect_client() as client:
        for name, what in sync_limits(client, wanted):
            click.echo(f"{name}: {what}")
        within = default_within()
        click.echo(f"automation {NAME!r}: {install_crash_detection(client, within)} "
                   f"(Crashed after {within.total_seconds():g} s without a heartbeat)")
