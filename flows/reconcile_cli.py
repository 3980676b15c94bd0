"""``dotsync reconcile``: run the ``reconcile`` flow from the command line.

Kept beside the flow (the plain ``dotsync`` package does not import flows):
:mod:`dotsync.deployments.cli` adds it to the ``dotsync`` group. Exit status as SPEC §4: 0 when
the reconciliation ran (whatever it found, and also when the call budget stopped it: it
says so), 1 when it failed, 2 for a usage or configuration error.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from dotsync.config import ConfigError, Settings
from dotsync.progress import ENV as PROGRESS_ENV


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@click.command("reconcile")
@click.option("--full", is_flag=True,
              help="Read every contact and insight record back (costs one call per page).")
@click.option("--repair", is_flag=True,
              help="Queue the missing and different records for the next sync.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--max-calls", type=click.IntRange(min=1), default=1000, show_default=True,
              help="API calls this run may make at most; it stops there and says so.")
@click.option("--sample", type=click.IntRange(min=0), default=100, show_default=True,
              help="Older records per entity read back one by one (one call each).")
@click.option("--page-size", type=click.IntRange(min=1, max=1000), default=1000,
              show_default=True, help="Records per page of the read-back listings.")
def reconcile_command(full: bool, repair: bool, as_json: bool, max_calls: int, sample: int,
                      page_size: int) -> None:
    """Compare the ledger with Dotdigital: missing, extra and different records."""
    try:
        Settings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:  # one JSON object on stdout, and no progress line on stderr
        os.environ[PROGRESS_ENV] = "0"
    from dotsync.flows.reconcile import reconcile

    state = reconcile(full=full, repair=repair, max_calls=max_calls, sample=sample,
                      page_size=page_size, return_state=True)
    if state.is_failed():
        message = state.message or "the reconciliation failed"
        if as_json:
            _echo_json({"status": "failed", "message": message})
        else:
            click.echo(f"dotsync: reconcile failed: {message}", err=True)
        sys.exit(1)
    report = state.result()
    if as_json:
        _echo_json(report)
        return
    for entity, tally in report["entities"].items():
        click.echo(f"{entity:9} checked {tally['checked']:>7}  missing {tally['missing']:>6}  "
                   f"extra {tally['extra']:>6}  different {tally['different']:>6}")
    for collection in report["collections"]:
        click.echo(f"collection {collection['collection']}: {collection['remote']} records in "
                   f"Dotdigital, {collection['ledger']} synced in the ledger")
    click.echo(f"API calls: {report['api_calls']} (budget {report['max_calls']})")
    if not report["complete"]:
        click.echo(f"incomplete: {report['incomplete_reason']}; run again or raise "
                   "--max-calls")
    if report["queued"] is not None:
        click.echo(f"queued for the next sync: {sum(report['queued'].values())}")
    elif report["total"]:
        click.echo("run again with --repair to queue them for the next sync")
