"""``dotsync trace ENTITY ID [--json] [--show-personal] [--remote]`` (SPEC §4).

Exit status: 0 when the record was found and told; 1 when no such record is known (or
``--remote`` could not reach Dotdigital); 2 for a configuration error.
"""

from __future__ import annotations

import json
import sys

import click

from dotsync.cli_errors import CommandFailed, ConfigurationError, first_line
from dotsync.config import Settings
from dotsync.dotdigital import errors as dd


@click.command("trace")
@click.argument("entity", type=click.Choice(["customers", "orders", "certificates", "carts"]))
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--show-personal", is_flag=True,
              help="Show e-mails, names, numbers and codes unmasked.")
@click.option("--remote", is_flag=True,
              help="Also read what Dotdigital holds now (a few read-only API calls).")
def trace_command(entity: str, record_id: str, as_json: bool, show_personal: bool,
                  remote: bool) -> None:
    """One record's story: staged row, contract result, every attempt, state now, what
    it waits for; with --remote, what Dotdigital holds."""
    from dotsync.store import Store
    from dotsync.trace import RecordNotFound, as_text, trace

    settings = Settings.from_env()
    try:
        store = Store(settings.database_url)
    except Exception as exc:  # a bad URL or an unreachable database
        raise ConfigurationError(f"cannot open the staging store (DOTSYNC_DATABASE_URL): "
                                 f"{type(exc).__name__}: {first_line(exc)}") from None
    client = _client(settings) if remote else None
    try:
        story = trace(store, settings, entity, record_id, show_personal=show_personal,
                      client=client)
    except RecordNotFound as exc:
        if as_json:
            click.echo(json.dumps({"entity": entity, "id": record_id, "found": False,
                                   "message": str(exc)}, indent=2))
        else:
            click.echo(f"dotsync: {exc}", err=True)
        sys.exit(1)
    except dd.AuthenticationError as exc:
        raise CommandFailed(f"Dotdigital refused the API credentials (HTTP {exc.status}): "
                            "check DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD") from None
    finally:
        store.dispose()
        if client is not None:
            client.close()
    if as_json:
        click.echo(json.dumps({"found": True, **story}, indent=2, default=str,
                              ensure_ascii=False))
    else:
        click.echo(as_text(story))
    if remote and "error" in story.get("remote", {}):
        sys.exit(1)


def _client(settings: Settings):  # type: ignore[no-untyped-def]
    """A client for --remote (few retries: a trace is interactive)."""
    from dotsync.dotdigital import DotdigitalClient

    if not settings.api_user or not settings.api_password:
        raise ConfigurationError("--remote needs DOTDIGITAL_API_USER and "
                                 "DOTDIGITAL_API_PASSWORD")
    try:
        return DotdigitalClient.from_settings(settings, max_retries=2)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
