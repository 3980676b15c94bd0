"""The ``dotsync`` command line (SPEC §4): the group and its plain commands.

Exit status: 0 when the command (or run) completed, even with rejected records;
1 when a run failed; 2 for a usage or configuration error, with a message naming
the problem.

This module imports no Prefect and nothing from ``flows``, ``tasks`` or
``deployments``: the commands that run flows or talk to a Prefect server (``sync``,
``backfill``, ``consent``, ``resend``, ``demo``, ``reconcile``, ``serve``,
``source-deployments``, ``alerts``) are added from the Prefect side by
:mod:`dotsync.deployments.cli`, whose ``main`` is the installed ``dotsync`` command. The group
here (:func:`make_main`) is complete for everything else: ``load``, ``status``,
``rejects``, ``replay``, ``preflight``, ``accounts``, ``emulator``, ``migrate``,
``trace``.
"""

from __future__ import annotations

import os

import click

from dotsync.cli_errors import guard_commands
from dotsync.cli_support import read_settings
from dotsync.logs import LEVELS, chosen_level
from dotsync.logs import configure as configure_logs


def plain_commands() -> dict[str, click.Command]:
    """The commands that need no Prefect, by name; each lives beside what it drives."""
    from dotsync.accounts_cli import accounts_command
    from dotsync.db_cli import db_command
    from dotsync.emulator.cli import emulator_command
    from dotsync.load_cli import load_command
    from dotsync.migrate_cli import migrate_command
    from dotsync.preflight_cli import preflight_command
    from dotsync.status_cli import rejects_command, replay_command, status_command
    from dotsync.trace_cli import trace_command

    return {
        "load": load_command,
        "status": status_command,
        "rejects": rejects_command,
        "replay": replay_command,
        "accounts": accounts_command,
        "emulator": emulator_command,
        "migrate": migrate_command,
        "db": db_command,
        "preflight": preflight_command,
        "trace": trace_command,
    }


def make_main(commands: dict[str, click.Command] | None = None) -> click.Group:
    """A new ``dotsync`` group: the global options, the plain commands and ``commands``.

    A new group each time, so adding the Prefect commands (:mod:`dotsync.deployments.cli`) never
    changes the plain group of this module. Every command's runtime errors are reported
    as one line (:mod:`dotsync.cli_errors`).
    """

    @click.group()
    @click.version_option(package_name="dotsync")
    @click.option("--account", default=None, envvar="DOTSYNC_ACCOUNT", show_envvar=True,
                  metavar="NAME",
                  help="The [accounts.NAME] of dotsync.toml to work on (default: the single "
                  "configuration).")
    @click.option("-v", "--verbose", count=True,
                  help="More log output on stderr: -v for INFO (429 waits, retries), -vv "
                  "DEBUG.")
    @click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
                  help="Level of dotsync's own log records (overrides -v).")
    def main(account: str | None, verbose: int, log_level: str | None) -> None:
        """Keep Dotdigital in step with a shop's commerce data."""
        level = chosen_level(verbose, log_level)
        if level is not None:
            configure_logs(level)
        # dotsync runs offline as often as not: Prefect's own analytics stay off unless
        # the user turns them on.
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        if account:
            # Every Settings.from_env() below (the flows run in this process) reads it.
            os.environ["DOTSYNC_ACCOUNT"] = account
            read_settings()  # an unknown account is a usage error before anything runs

    for name, command in {**plain_commands(), **(commands or {})}.items():
        main.add_command(command, name)
    # Last, once every command is added: runtime errors as one line.
    guard_commands(main)
    return main


#: The plain group (``python -m dotsync.cli``); the installed ``dotsync`` command is
#: :data:`dotsync.deployments.cli.main`, this group plus the commands that need Prefect.
main = make_main()

if __name__ == "__main__":
    main()
