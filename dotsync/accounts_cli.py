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
