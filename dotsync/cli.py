"""The ``dotsync`` command line (SPEC §4).

Exit status: 0 when the command (or run) completed, even with rejected records;
1 when a run failed; 2 for a usage or configuration error, with a message naming
the problem. Commands that run flows import Prefect when they run, so ``load``,
``status`` and ``emulator`` stay quick.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from dotsync.cli_errors import ConfigurationError, guard_commands
from dotsync.config import ConfigError, Settings
from dotsync.logs import LEVELS, chosen_level
from dotsync.logs import configure as configure_logs
from dotsync.progress import ENV as PROGRESS_ENV

ENTITY_CHOICE = click.Choice(["customers", "orders", "certificates"])


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise ConfigurationError(str(exc)) from None


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from dotsync.store import Store

    try:
        return Store(settings.database_url)
    except Exception as exc:  # a bad URL or an unreachable database: a configuration error
        raise ConfigurationError(
            f"cannot open the staging store (DOTSYNC_DATABASE_URL): {type(exc).__name__}: "
            f"{_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cut(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@click.group()
@click.version_option(package_name="dotsync")
@click.option("--account", default=None, envvar="DOTSYNC_ACCOUNT", show_envvar=True,
              metavar="NAME",
              help="The [accounts.NAME] of dotsync.toml to work on (default: the single "
              "configuration).")
@click.option("-v", "--verbose", count=True,
              help="More log output on stderr: -v for INFO (429 waits, retries), -vv DEBUG.")
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
        _settings()  # an unknown account is a usage error before anything runs


@main.command()
@click.argument("entity", type=click.Choice([*ENTITY_CHOICE.choices, "carts", "products",
                                             "creditmemos"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--format", "platform", default=None,
              type=click.Choice(["adobe-commerce", "commercetools", "shopify"]),
              help="FILE holds this platform's own API payloads (see docs/SOURCES.md).")
@click.option("--certificate-link", default=None, metavar="TEMPLATE",
              help="With --format: gift card link, e.g. 'https://shop.example/gift?c={code}'.")
@click.option("--problems", "problems_file", default=None, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=str),
              help="With --format: write every rejected object to FILE (JSON Lines); "
              "the output shows the first 1,000 and counts the rest by reason.")
def load(entity: str, file: str, as_json: bool, platform: str | None,
         certificate_link: str | None, problems_file: str | None) -> None:
    """Upsert FILE (CSV, JSON Lines, a JSON array or Parquet) into the staging table ENTITY.

    With --format, FILE holds a platform's own API payloads (docs/SOURCES.md).
    Exit status 2 when the file as a whole is refused (unreadable, unknown type,
    unknown columns in its header); 1 when rows were read but not one could be
    loaded (the wrong file, or the wrong ENTITY), with the first reasons.
    """
    from dotsync.progress import ProgressLine
    from dotsync.store import LoadError, load_file

    if problems_file is not None and platform is None:
        raise click.UsageError("--problems goes with --format (a platform's payloads)")
    store = _store(_settings())
    line = ProgressLine(f"loading {entity}", unit="rows")
    line.enabled = line.enabled and not as_json
    try:
        if platform is not None:
            from dotsync.sources.load import load_platform_file

            report = load_platform_file(store, platform, entity, file,
                                        link_template=certificate_link,
                                        problems_file=problems_file)
        else:
            report = load_file(store, entity, file, on_progress=line.update)
    except LoadError as exc:
        raise click.UsageError(f"{file}: {exc}") from None
    finally:
        line.close()
    if as_json:
        _echo_json(report.as_dict())
        if report.nothing_loaded:
            sys.exit(1)
        return
    if report.nothing_loaded:
        _load_failed(entity, file, report)
    c = report.counts
    click.echo(
        f"{entity}: {report.rows} rows read from {file}: {c.inserted} inserted, "
        f"{c.updated} updated, {c.unchanged} unchanged, {report.rejected} rejected"
    )
    if report.duplicates:
        click.echo(
            f"  {report.duplicates} rows repeated a key earlier in the file; "
            "the last occurrence was kept"
        )
    for p in report.problems:
        click.echo(f"  rejected {p.where}: {p.reason}", err=True)
    _left_out(report, problems_file)


def _left_out(report: Any, problems_file: str | None) -> None:
    """The problems not kept in memory: how many, why, and where the full list is."""
    if not report.problems_left_out:
        return
    where = f"all {report.rejected} are in {problems_file}" if problems_file \
        else "pass --problems FILE for the full list"
    click.echo(f"  ... and {report.problems_left_out} more ({where}). By reason:", err=True)
    for reason, count in sorted(report.reasons.items(), key=lambda kv: -kv[1])[:20]:
        click.echo(f"  {count:>9}  {reason}", err=True)


def _load_failed(entity: str, file: str, report: Any, shown: int = 5) -> None:
    """Not one row loaded: say so with the first reasons, and exit 1."""
    problems = report.problems
    total = getattr(report, "rejected", len(problems))
    click.echo(f"dotsync: nothing loaded from {file}: all {total} rows were rejected "
               f"(is this a {entity} file?). First reasons:", err=True)
    for p in problems[:shown]:
        click.echo(f"  {p.where}: {p.reason}", err=True)
    printed = min(shown, len(problems))
    if total > printed:
        more = "`--json` lists them all" if total == len(problems) \
            else "`--problems FILE` lists them all"
        click.echo(f"  ... and {total - printed} more ({more})", err=True)
    sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(as_json: bool) -> None:
    """Counts per entity and state (pending, synced, rejected, failed, in doubt)."""
    from dotsync.store.status import status as compute

    result = compute(_store(_settings()))
    if as_json:
        _echo_json(result)
        return
    headers = ["entity", "pending", "synced", "rejected", "failed", "in_doubt"]
    rows = [
        [name] + [counts.get(h, 0) for h in headers[1:]]
        for name, counts in result["entities"].items()
    ]
    click.echo(_table(headers, rows))
    warned = result.get("warnings") or {}
    if warned:
        click.echo("\nSent with a field left out (warnings; `dotsync rejects --warnings`): "
                   + ", ".join(f"{entity} {n}" for entity, n in sorted(warned.items())))
    if result["in_doubt"]:
        click.echo("\nIn doubt (sent or not: check Dotdigital, then `dotsync resend` if needed):")
        for item in result["in_doubt"]:
            click.echo(f"  {item['entity']} {item['key']} since {item['since']}")


@main.command()
@click.option(
    "--entity",
    type=click.Choice(["customers", "contacts", "orders", "confirmations", "certificates"]),
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--warnings", "show_warnings", is_flag=True,
              help="Records sent with a field left out, and why.")
def rejects(entity: str | None, as_json: bool, show_warnings: bool) -> None:
    """Every rejected, failed, in-doubt or waiting record: entity, id, field, reason
    (for a waiting record, what it waits for); with ``--warnings``, the records sent
    with a field left out."""
    from dotsync.store.status import rejects as compute

    if show_warnings:
        _print_warnings(entity, as_json)
        return
    items = compute(_store(_settings()), entity)
    if as_json:
        _echo_json({"rejects": items, "count": len(items)})
        return
    if not items:
        click.echo("No rejected, failed, in-doubt or waiting records.")
        return
    click.echo(
        _table(
            ["entity", "id", "state", "field", "reason"],
            [
                [i["entity"], i["id"], i["state"], i["field"] or "", i["reason"] or ""]
                for i in items
            ],
        )
    )


def _print_warnings(entity: str | None, as_json: bool) -> None:
    from dotsync.store.status import warnings as compute

    items = compute(_store(_settings()), entity)
    if as_json:
        _echo_json({"warnings": items, "count": len(items),
                    "records": len({(i["entity"], i["id"]) for i in items})})
        return
    if not items:
        click.echo("No record was sent with a field left out.")
        return
    click.echo(_table(["entity", "id", "field", "value", "reason"],
                      [[i["entity"], i["id"], i["field"] or "", _cut(i["value"], 30),
                        _cut(i["reason"], 110)] for i in items]))


def _register_commands() -> None:
    """Commands that live beside what they drive."""
    from deployments.alerts import alerts_command
    from deployments.prefect_sources import source_deployments_command
    from deployments.serve import serve_command
    from dotsync.accounts_cli import accounts_command
    from dotsync.db_cli import db_command
    from dotsync.emulator.cli import emulator_command
    from dotsync.migrate_cli import migrate_command
    from dotsync.preflight_cli import preflight_command
    from dotsync.trace_cli import trace_command
    from flows.reconcile_cli import reconcile_command

    main.add_command(accounts_command, "accounts")
    main.add_command(db_command, "db")
    main.add_command(emulator_command, "emulator")
    main.add_command(migrate_command, "migrate")
    main.add_command(preflight_command, "preflight")
    main.add_command(serve_command, "serve")
    main.add_command(trace_command, "trace")
    main.add_command(source_deployments_command, "source-deployments")
    main.add_command(reconcile_command, "reconcile")
    main.add_command(alerts_command, "alerts")


_register_commands()


def _stop_if_credentials_refused(settings: Settings, as_json: bool) -> None:
    """Refused credentials: one line and exit 1, before a flow run is even started."""
    from dotsync.credentials_check import refused_credentials

    message = refused_credentials(settings)
    if message is None:
        return
    if as_json:
        _echo_json({"status": "failed", "message": message})
    else:
        click.echo(f"dotsync: run failed: {message}", err=True)
    sys.exit(1)


def _finish_run(state: Any, as_json: bool) -> None:
    """Print a flow run's report and exit with SPEC §4's status."""
    from flows.common import last_run

    if state.is_failed():
        message = state.message or "the run failed"
        if as_json:
            _echo_json({"status": "failed", "message": message})
        else:
            click.echo(f"dotsync: run failed: {message}", err=True)
        sys.exit(1)
    report = state.result(raise_on_failure=False)
    if not isinstance(report, dict):  # a retried flow run returns its last attempt's data
        report = last_run(_store(_settings())) or {}
    if as_json:
        _echo_json(report)
        return
    _print_summary(report)


def _print_summary(report: dict[str, Any]) -> None:
    headers = ["entity", "considered", "sent", "unchanged", "rejected", "failed", "skipped",
               "in_doubt"]
    rows = [
        [entity] + [report[entity].get(h, 0) for h in headers[1:]]
        for entity in ("contacts", "orders", "confirmations", "certificates")
        if entity in report
    ]
    dry = " (dry run: nothing was sent)" if report.get("dry_run") else ""
    click.echo(f"Run {report.get('run_id')} {report.get('status')}{dry} in "
               f"{report.get('duration_seconds', 0):.1f}s, {report.get('api_calls_total', 0)} "
               f"API calls ({report.get('write_calls', 0)} writes)")
    click.echo(_table(headers, rows))
    for note in report.get("notes") or []:
        if str(note).startswith("dry run: the next run would send"):
            click.echo(note)
    merged = report.get("contacts", {}).get("merged", 0)
    if merged:
        click.echo(f"{merged} customer rows shared an e-mail with a newer row and were merged "
                   "into it (one contact each).")
    warned = report.get("warnings_total") or 0
    if warned:
        click.echo(f"{warned} fields were left out of what was sent (warnings; the records "
                   "went on): run `dotsync rejects --warnings`.")
    problems = report.get("problems") or []
    if problems:
        click.echo(f"\n{len(problems)} records need attention:")
        click.echo(_table(
            ["entity", "id", "state", "field", "reason"],
            [[p["entity"], p["key"], p["state"], p.get("field") or "", _cut(p["reason"], 110)]
             for p in problems[:50]],
        ))
        if len(problems) > 50:
            click.echo(f"... and {len(problems) - 50} more: run `dotsync rejects`.")


@main.command()
@click.option("--entities", default="contacts,orders,certificates", show_default=True,
              help="Comma-separated: contacts, orders, certificates.")
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
def sync(entities: str, dry_run: bool, as_json: bool, poll_interval: float,
         allow_sends: int | None, assume_before: str | None) -> None:
    """One run of the sync flow (a Prefect flow run)."""
    chosen = [e.strip() for e in entities.split(",") if e.strip()]
    unknown = sorted(set(chosen) - {"contacts", "orders", "certificates"})
    if unknown:
        raise click.UsageError(f"unknown entities: {', '.join(unknown)}")
    settings = _settings()
    if not dry_run:
        _stop_if_credentials_refused(settings, as_json)
    if assume_before is not None:
        from dotsync.sync.assume_sent import announce

        announce(_store(settings), assume_before, dry_run=dry_run, echo=click.echo,
                 to_stderr=as_json)
    if as_json:
        os.environ[PROGRESS_ENV] = "0"
    from flows.sync import sync as sync_flow

    state = sync_flow(entities=chosen, dry_run=dry_run, poll_interval=poll_interval,
                      allow_sends=allow_sends, return_state=True)
    _finish_run(state, as_json)


@main.command()
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
def backfill(since: str | None, include_certificates: bool, chunk_rows: int,
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
    _stop_if_credentials_refused(_settings(), as_json)
    if as_json:
        os.environ[PROGRESS_ENV] = "0"
    from flows.backfill import backfill as backfill_flow

    state = backfill_flow(since=start, include_certificates=include_certificates,
                          chunk_rows=chunk_rows, poll_interval=poll_interval,
                          import_max_bytes=import_max_bytes, allow_sends=allow_sends,
                          return_state=True)
    _finish_run(state, as_json)


@main.command()
@click.option("--since", default=None, help="Read back from this ISO date instead of the "
              "last watermark.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def consent(since: str | None, as_json: bool) -> None:
    """Read back unsubscribed and suppressed contacts from Dotdigital."""
    _stop_if_credentials_refused(_settings(), as_json)
    from flows.consent import consent as consent_flow

    state = consent_flow(since=since, return_state=True)
    if state.is_failed():
        click.echo(f"dotsync: consent read-back failed: {state.message}", err=True)
        sys.exit(1)
    result = state.result()
    if as_json:
        _echo_json(result)
    else:
        click.echo(state.message)


@main.command()
@click.option("--entity", type=click.Choice(
    ["customers", "contacts", "orders", "confirmations", "certificates"]))
@click.option("--ids", default=None, help="Comma-separated record ids (default: all).")
def replay(entity: str | None, ids: str | None) -> None:
    """Queue rejected and failed records again for the next run."""
    from dotsync.store import Ledger

    keys = [k.strip() for k in ids.split(",") if k.strip()] if ids else None
    count = Ledger(_store(_settings())).replay(entity, keys)
    click.echo(f"{count} records queued again; they go out with the next `dotsync sync`.")


@main.command()
@click.argument("kind", type=click.Choice(["certificate"]))
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def resend(kind: str, record_id: str, as_json: bool) -> None:
    """Deliberately send a certificate again (the only way it is ever re-sent)."""
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.sync.engine import CredentialsRefused, RunFailed, SyncEngine

    _settings()
    from flows.common import load_settings

    settings = load_settings()
    store = _store(settings)
    try:
        with DotdigitalClient.from_settings(settings) as client:
            engine = SyncEngine(store, settings, client, flow="resend")
            engine.connect()
            engine.resend_certificate(record_id)
    except CredentialsRefused as exc:  # as every command: one line, exit 1
        from dotsync import debuglog

        debuglog.keep(f"resend failed: {exc}", exc)
        click.echo(f"dotsync: resend failed: {exc}", err=True)
        sys.exit(1)
    except (RunFailed, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    report = engine.finish()
    counts = report.counts["certificates"]
    if as_json:
        _echo_json(report.as_dict())
    elif counts.sent:
        click.echo(f"certificate {record_id} sent again.")
    else:
        for p in report.problems:
            click.echo(f"certificate {record_id}: {p.state}: {p.reason}", err=True)
    if not counts.sent:
        sys.exit(1)


@main.command()
@click.option("--dir", "folder", default="dotsync-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo keeps its files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def demo(folder: str, as_json: bool) -> None:
    """Sample data + the bundled emulator + one sync run, offline."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.demo import run_demo

    run_demo(folder, as_json=as_json, echo=click.echo, print_summary=_print_summary)


# Last, once every command is defined: runtime errors as one line (dotsync.cli_errors).
guard_commands(main)
