"""``dotsync emulator``: run the bundled Dotdigital emulator on loopback (SPEC §4).

The base URL is the first line of stdout (flushed at once, so a script or test can read it
and go); the API user and a notice about the password follow. The lead registers
:data:`emulator_command` in ``dotsync.cli``; ``python -m dotsync.emulator`` runs it directly.
"""

from __future__ import annotations

from pathlib import Path

import click

from dotsync.emulator.config import DEFAULT_PASSWORD, DEFAULT_USER, IMPORT_FAILURE_STATUSES


def _probability(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be a probability between 0 and 1")
    return value


@click.command("emulator")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free port.")
@click.option("--user", default=DEFAULT_USER, show_default=True,
              help="The only API user accepted.")
@click.option("--password", default=None,
              help="The only password accepted (default: the demo password, printed).")
@click.option("--seed", "seed", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="JSON file with campaigns, suppressed contacts, collections.")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds added to every API call.")
@click.option("--error-rate", type=float, default=0.0, callback=_probability,
              show_default=True, help="Probability of a 5xx answer per call.")
@click.option("--drop-rate", type=float, default=0.0, callback=_probability,
              show_default=True, help="Probability of dropping the connection before acting.")
@click.option("--drop-after-rate", type=float, default=0.0, callback=_probability,
              show_default=True,
              help="Probability of acting, then dropping the connection mid-response.")
@click.option("--import-delay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds an import stays NotFinished.")
@click.option("--fail-imports", type=float, default=0.0, callback=_probability,
              show_default=True, help="Probability that an import ends Failed.")
@click.option("--failed-import-status", type=click.Choice(IMPORT_FAILURE_STATUSES),
              default="Failed", show_default=True)
@click.option("--rate-limit", "rate_limit", type=click.IntRange(min=1), default=None,
              help="Calls allowed per minute (default: no limit).")
@click.option("--random-seed", type=int, default=None, help="Seed for fault decisions.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info"]),
              default="warning", show_default=True)
def emulator_command(port: int, user: str, password: str | None, seed: Path | None,
                     latency: float, error_rate: float, drop_rate: float,
                     drop_after_rate: float, import_delay: float, fail_imports: float,
                     failed_import_status: str, rate_limit: int | None,
                     random_seed: int | None, log_level: str) -> None:
    """Run the bundled Dotdigital emulator on loopback until interrupted."""
    from dotsync.emulator.server import serve

    chosen_password = password if password is not None else DEFAULT_PASSWORD

    def announce(url: str) -> None:
        click.echo(url)
        click.echo(f"API user: {user}")
        if password is None:
            click.echo(f"API password: {DEFAULT_PASSWORD} (the emulator's default; "
                       "set another with --password)")
        else:
            click.echo("API password: as given with --password")
        click.echo("Press Ctrl-C to stop.")
        click.get_text_stream("stdout").flush()

    try:
        serve(port, user, chosen_password, seed, announce=announce, log_level=log_level,
              latency=latency, error_rate=error_rate, drop_rate=drop_rate,
              drop_after_rate=drop_after_rate, import_delay=import_delay,
              fail_imports=fail_imports, failed_import_status=failed_import_status,
              rate_limit_per_minute=rate_limit, random_seed=random_seed)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
