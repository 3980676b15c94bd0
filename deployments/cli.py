"""The installed ``dotsync`` command: the plain group plus the commands that need Prefect.

The layers point down: ``dotsync`` (plain) ← ``tasks`` ← ``flows`` ← ``deployments``.
So the plain package cannot name the commands that run flows or talk to a Prefect
server; they are added here, on the top layer, to a group built by
:func:`dotsync.cli.make_main`: ``sync``, ``backfill``, ``consent``, ``resend`` and
``demo`` (:mod:`flows.run_cli`), ``reconcile`` (:mod:`flows.reconcile_cli`), ``serve``,
``source-deployments`` and ``alerts`` (this package). Each command module imports Prefect
only when its command runs, so ``dotsync --help`` and ``dotsync load`` stay quick.
"""

from __future__ import annotations

import click

from dotsync.cli import make_main


def prefect_commands() -> dict[str, click.Command]:
    """The commands that run flows or talk to a Prefect server, by name."""
    from deployments.alerts import alerts_command
    from deployments.prefect_sources import source_deployments_command
    from deployments.serve import serve_command
    from flows.reconcile_cli import reconcile_command
    from flows.run_cli import RUN_COMMANDS

    return {
        **RUN_COMMANDS,
        "reconcile": reconcile_command,
        "serve": serve_command,
        "source-deployments": source_deployments_command,
        "alerts": alerts_command,
    }


#: ``[project.scripts] dotsync``: every command.
main = make_main(prefect_commands())

if __name__ == "__main__":  # python -m deployments.cli
    main()
