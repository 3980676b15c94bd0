"""The commands that run flows: ``dotsync sync``, ``backfill``, ``consent``, ``resend``
and ``demo``.

They live beside the flows (the plain ``dotsync`` package imports none of them) and are
added to the ``dotsync`` group by :mod:`dotsync.deployments.cli`. Prefect itself is imported
when a command runs, so ``dotsync --help`` stays quick. Exit status as SPEC §4: 0 when
the run completed (whatever was rejected), 1 when it failed, 2 for a usage or
configuration error.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import click

from dotsync.cli_support import (
    echo_json,
    ledger_writer_of,
    open_store,
    print_summary,
    read_settings,
)
from dotsync.config import Settings
from dotsync.progress import ENV as PROGRESS_ENV
from dotsync.store.runs import last_run
from dotsync.sync.entities import ENTITIES


def _stop_if_credentials_refused(settings: Settings, as_json: bool) -> None:
    """Refused credentials: one line and exit 1, before a flow run is even started."""
    from dotsync.credentials_check import refused_credentials

    message = refused_credentials(settings)
    if message is None:
        return
    if as_json:
        echo_json({"status": "failed", "message": message})
    else:
        click.echo(f"dotsync: run failed: {message}", err=True)
    sys.exit(1)


def _finish_run(state: Any, as_json: bool) -> None:
    """Print a flow run's report and exit with SPEC §4's status."""
    if state.is_failed():
        message = state.message or "the run failed"
        if as_json:
            echo_json({"status": "failed", "message": message})
        else:
            click.echo(f"dotsync: run failed: {message}", err=True)
        sys.exit(1)
    report = state.result(raise_on_failure=False)
    if not isinstance(report, dict):  # a retried flow run returns its last attempt's data
        report = last_run(open_store(read_settings())) or {}
    if as_json:
        echo_json(report)
        return
    print_summary(report)


@click.command("sync")
@click.option("--entities", default=",".join(ENTITIES), show_default=True,
              help=f"Comma-separated: {', '.join(ENTITIES)} (an entity with nothing "
                   "staged costs no call).")
@click.option("--dry-run", is_flag=True, help="Validate and report what would be sent; send "
              "nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--poll-interval", type=click.FloatRange(min=0.001), default=5.0,
              show_default=True, help="Seconds between import status polls.")
@click.option("--allow-sends", type=click.IntRange(min=0), default=None,
              help="Let this run send up to N order confirmations and certificates "
                   "(instead of DOTSYNC_MAX_SENDS_PER_RUN).")
@click.option("--assume-sent-before", "assume_before", default=None, metavar="DATE",
              help="For a shop that lost its ledger: first mark certificates updated, and "
              "order confirmations of orders placed, before DATE as already sent (nothing "
              "is sent for them).")
def sync_command(entities: str, dry_run: bool, as_json: bool, poll_interval: float,
         allow_sends: int | None, assume_before: str | None) -> None:
    """One run of the sync flow (a Prefect flow run)."""
    chosen = [e.strip() for e in entities.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(ENTITIES))
    if unknown:
        raise click.UsageError(f"unknown entities: {', '.join(unknown)}")
    settings = read_settings()
    if not dry_run:
        _stop_if_credentials_refused(settings, as_json)
    if assume_before is not None:
        _assume_sent(settings, assume_before, dry_run, as_json)
    if as_json:
        os.environ[PROGRESS_ENV] = "0"
    from dotsync.flows.sync import sync as sync_flow

    state = sync_flow(entities=chosen, dry_run=dry_run, poll_interval=poll_interval,
                      allow_sends=allow_sends, return_state=True)
    _finish_run(state, as_json)


def _assume_sent(settings: Settings, text: str, dry_run: bool, as_json: bool) -> None:
    """``--assume-sent-before``: mark, as the account ledger's one writer (a sync or
    backfill running meanwhile is waited for, and named), then let the lock go: the
    sync flow run that follows takes it itself."""
    from functools import partial

    from dotsync.sync.assume_sent import announce

    store = open_store(settings)
    try:
        announce(store, text, dry_run=dry_run, echo=click.echo, to_stderr=as_json,
                 hold=partial(ledger_writer_of, store, "sync --assume-sent-before"))
    finally:
        store.dispose()


@click.command("backfill")
@click.option("--since", default=None, help="Only records updated since this ISO date.")
@click.option("--include-certificates", is_flag=True,
              help="Also send pending certificates (exactly once, as the sync does).")
@click.option("--chunk-rows", type=click.IntRange(min=100), default=50_000, show_default=True,
              help="Staged rows read at a time.")
@click.option("--poll-interval", type=click.FloatRange(min=0.001), default=5.0,
              show_default=True, help="Seconds between import status polls.")
@click.option("--import-max-bytes", type=click.IntRange(min=10_000, max=50_000_000),
              default=48_000_000, show_default=True,
              help="Largest import body, in bytes (Dotdigital's cap is 50 MB).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--allow-sends", type=click.IntRange(min=0), default=None,
              help="With --include-certificates: let this run send up to N certificates "
                   "(instead of DOTSYNC_MAX_SENDS_PER_RUN).")
def backfill_command(since: str | None, include_certificates: bool, chunk_rows: int,
             poll_interval: float, import_max_bytes: int, as_json: bool,
             allow_sends: int | None) -> None:
    """The bulk first load (or re-load) through the bulk import endpoints."""
    start = None
    if since is not None:
        import pandas as pd

        try:  # handed over as a datetime: the flow's parameter is a date or a datetime
            start = pd.Timestamp(since).to_pydatetime()
        except (ValueError, TypeError):
            raise click.UsageError(f"--since {since!r} is not an ISO 8601 date") from None
    _stop_if_credentials_refused(read_settings(), as_json)
    if as_json:
        os.environ[PROGRESS_ENV] = "0"
    from dotsync.flows.backfill import backfill as backfill_flow

    state = backfill_flow(since=start, include_certificates=include_certificates,
                          chunk_rows=chunk_rows, poll_interval=poll_interval,
                          import_max_bytes=import_max_bytes, allow_sends=allow_sends,
                          return_state=True)
    _finish_run(state, as_json)


@click.command("consent")
@click.option("--since", default=None, help="Read back from this ISO date instead of the "
              "last watermark.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def consent_command(since: str | None, as_json: bool) -> None:
    """Read back unsubscribed and suppressed contacts from Dotdigital."""
    _stop_if_credentials_refused(read_settings(), as_json)
    from dotsync.flows.consent import consent as consent_flow

    state = consent_flow(since=since, return_state=True)
    if state.is_failed():
        click.echo(f"dotsync: consent read-back failed: {state.message}", err=True)
        sys.exit(1)
    result = state.result()
    if as_json:
        echo_json(result)
    else:
        click.echo(state.message)


@click.command("resend")
@click.argument("kind", type=click.Choice(["certificate", "cart"]))
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def resend_command(kind: str, record_id: str, as_json: bool) -> None:
    """Deliberately send a certificate again, or enrol a cart's contact into the cart
    program again (the only ways either is ever repeated)."""
    from dotsync.flows.common import load_settings

    from dotsync.dotdigital import DotdigitalClient
    from dotsync.sync.engine import CredentialsRefused, RunFailed, SyncEngine

    read_settings()  # a configuration problem is a usage error, before the block is read
    settings = load_settings()
    store = open_store(settings)
    run_id = uuid.uuid4().hex
    # The account ledger's one writer, as `dotsync replay`: a sync settling the same
    # send meanwhile could have its outcome overwritten, so a running one is waited for.
    with ledger_writer_of(store, "resend", run_id):
        try:
            with DotdigitalClient.from_settings(settings) as client:
                engine = SyncEngine(store, settings, client, flow="resend", run_id=run_id)
                engine.connect()
                if kind == "cart":
                    engine.carts.resend(record_id)
                else:
                    engine.resend_certificate(record_id)
        except CredentialsRefused as exc:  # as every command: one line, exit 1
            from dotsync import debuglog

            debuglog.keep(f"resend failed: {exc}", exc)
            click.echo(f"dotsync: resend failed: {exc}", err=True)
            sys.exit(1)
        except (RunFailed, ValueError) as exc:
            raise click.UsageError(str(exc)) from None
        report = engine.finish()
    counts = report.counts["certificates" if kind == "certificate" else "cart_enrolments"]
    done = "sent again" if kind == "certificate" else "enrolled again"
    if as_json:
        echo_json(report.as_dict())
    elif counts.sent:
        click.echo(f"{kind} {record_id} {done}.")
    else:
        for p in report.problems:
            click.echo(f"{kind} {record_id}: {p.state}: {p.reason}", err=True)
    if not counts.sent:
        sys.exit(1)


@click.command("demo")
@click.option("--dir", "folder", default="dotsync-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo keeps its files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def demo_command(folder: str, as_json: bool) -> None:
    """Sample data + the bundled emulator + a sync run, offline; then a second run
    after a shopper came back to an abandoned cart and ordered."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from dotsync.demo import run_demo

    run_demo(folder, run_sync=_demo_sync, as_json=as_json, echo=click.echo,
             print_summary=print_summary)


def _demo_sync(report_file: Path) -> dict[str, Any]:
    """One of the demo's syncs, as a flow run (Prefect starts a temporary local server
    for the first)."""
    from dotsync.flows.sync import sync

    state = sync(poll_interval=0.2, bulk_threshold=50, report_file=str(report_file),
                 return_state=True)
    if state.is_failed():
        raise SystemExit(f"dotsync demo: the run failed: {state.message}")
    result: dict[str, Any] = state.result()
    return result


#: The commands this module adds to the ``dotsync`` group, by name.
RUN_COMMANDS: dict[str, click.Command] = {
    "sync": sync_command,
    "backfill": backfill_command,
    "consent": consent_command,
    "resend": resend_command,
    "demo": demo_command,
}
