"""The installed ``dotsync`` command: the plain group plus the commands that need Prefect.

The layers point down: ``dotsync`` (plain) ← ``tasks`` ← ``flows`` ← ``deployments``.
So the plain package cannot name the commands that run flows or talk to a Prefect
server; they are added here, on the top layer, to a group built by
:func:`dotsync.cli.make_main`: ``sync``, ``backfill``, ``consent``, ``resend`` and
``demo`` (:mod:`dotsync.flows.run_cli`), ``reconcile`` (:mod:`dotsync.flows.reconcile_cli`),
``serve``, ``source-deployments``, ``alerts`` and ``accounts sync-limits`` (this package). Each
command module imports Prefect only when its command runs.
"""

from __future__ import annotations

import copy

import click

from dotsync.cli import make_main


def prefect_commands() -> dict[str, click.Command]:
    """The commands that run flows or talk to a Prefect server, by name."""
    from dotsync.deployments.alerts import alerts_command
    from dotsync.deployments.prefect_sources import source_deployments_command
    from dotsync.deployments.serve import serve_command
    from dotsync.flows.reconcile_cli import reconcile_command
    from dotsync.flows.run_cli import RUN_COMMANDS

    return {
        **RUN_COMMANDS,
        "accounts": _accounts_group(),
        "reconcile": reconcile_command,
        "serve": serve_command,
        "source-deployments": source_deployments_command,
        "alerts": alerts_command,
    }


def _accounts_group() -> click.Group:
    """``dotsync accounts`` with ``sync-limits`` added: a copy of the plain group, so the
    plain ``dotsync.cli`` group is left as it is."""
    from dotsync.deployments.limits_cli import sync_limits_command

    from dotsync.accounts_cli import accounts_command

    group = copy.copy(accounts_command)
    group.commands = dict(accounts_command.commands)
    group.add_command(sync_limits_command, "sync-limits")
    return group


#: ``[project.scripts] dotsync``: every command.
main = make_main(prefect_commands())

if __name__ == "__main__":  # python -m dotsync.deployments.cli
    main()
