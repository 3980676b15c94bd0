"""``dotsync preflight [--json]``: the go-live checklist from the command line.

Exit status (SPEC §4): 0 when every check passed (warnings allowed), 1 when a check failed
or could not run, 2 for a configuration error (no API user or password, an endpoint outside
the allow-list, a malformed setting, a staging store that cannot be opened), with a message
naming the setting. Configuration errors come first so that "the checks failed" always
means the checks ran.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from dotsync.config import ConfigError, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

#: Preflight is interactive and runs before every deployed run: give up on an unreachable
#: Dotdigital in seconds rather than after the sync's long back-off.
PREFLIGHT_MAX_RETRIES = 2
PREFLIGHT_TIMEOUT = 30.0
PREFLIGHT_MAX_RATE_LIMIT_WAIT = 60.0


def _config_error(message: str, as_json: bool) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"ok": False, "error": message, "checks": []}, indent=2))
    raise click.exceptions.Exit(EXIT_CONFIG)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@click.command("preflight")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: ok and checks.")
@click.option("--changed-only", is_flag=True,
              help="Check only the staged records the next sync reads (changed since the "
                   "last run, or to retry), as a scheduled sync with preflight does.")
def preflight_command(as_json: bool, changed_only: bool) -> None:
    """Go-live checks: credentials, region, campaigns, collection, no placeholder values.

    Exit status 0 when ready, 1 when a check failed, 2 for a configuration error.
    """
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.preflight import CHECK_NAMES, run_preflight, unknown_accepted
    from dotsync.store import Store

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        _config_error(str(exc), as_json)
    unknown = unknown_accepted(settings)
    if unknown:
        _config_error(f"DOTSYNC_PREFLIGHT_ACCEPT names no check: {', '.join(unknown)}"
                      f" (check names: {', '.join(CHECK_NAMES)})", as_json)
    if not settings.api_user:
        _config_error("DOTDIGITAL_API_USER is not set (the API user,"
                      " apiuser-…@apiconnector.com)", as_json)
    if not settings.api_password:
        _config_error("DOTDIGITAL_API_PASSWORD is not set", as_json)
    try:
        client = DotdigitalClient.from_settings(
            settings, max_retries=PREFLIGHT_MAX_RETRIES, timeout=PREFLIGHT_TIMEOUT,
            max_rate_limit_wait=PREFLIGHT_MAX_RATE_LIMIT_WAIT)
    except ValueError as exc:  # HostNotAllowedError included: names DOTDIGITAL_API_ENDPOINT
        _config_error(_first_line(exc), as_json)
    try:
        store = Store(settings.database_url)
    except Exception as exc:  # a bad URL or an unreachable database
        client.close()
        _config_error(f"cannot open the staging store (DOTSYNC_DATABASE_URL):"
                      f" {type(exc).__name__}: {_first_line(exc)}", as_json)
    from dotsync.sync.send_forecast import forecast_dict, forecast_line, forecast_sends

    forecast = None
    try:
        with client:
            result = run_preflight(settings, store, client, changed_only=changed_only)
        try:  # informational: what the next run would send (README, "Transactional e-mails")
            forecast = forecast_sends(settings, store)
        except Exception as exc:  # never turns a passing checklist into a crash
            forecast_error = f"next run's sends could not be counted: {_first_line(exc)}"
        else:
            forecast_error = None
    finally:
        store.dispose()
    payload: Any = result.as_dict()
    if forecast is not None:
        payload["next_run_sends"] = forecast_dict(forecast, settings)
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(result.render())
        click.echo(forecast_line(forecast, settings) if forecast is not None
                   else f"ℹ {forecast_error}")
    raise click.exceptions.Exit(EXIT_OK if result.ok else EXIT_FAILED)
