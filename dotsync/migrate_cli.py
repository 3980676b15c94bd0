"""``dotsync migrate --to URL``: move the staging store, ledger included, to another
database (see :mod:`dotsync.store.transfer`).

Exit status: 0 when every table was copied and verified; 1 when a table's count or
content hash differs after the copy (the table is named); 2 when the copy cannot
start (the target is the store itself, cannot be opened, or already holds data
without ``--force``).
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.engine import make_url


def _same_database(a: str, b: str) -> bool:
    try:
        return make_url(a).render_as_string(False) == make_url(b).render_as_string(False)
    except Exception:
        return a.strip() == b.strip()


@click.command()
@click.option("--to", "target_url", required=True, metavar="URL",
              help="SQLAlchemy URL of the database to copy the store into (e.g. "
                   "postgresql+psycopg://user@host/db, or sqlite:///other.db).")
@click.option("--force", is_flag=True,
              help="Replace what the target already holds (refused otherwise).")
@click.option("--chunk-rows", type=click.IntRange(min=100), default=20_000, show_default=True,
              help="Rows read and written at a time.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def migrate_command(target_url: str, force: bool, chunk_rows: int, as_json: bool) -> None:
    """Copy the staging tables, the ledger and all of dotsync's bookkeeping to the
    database at URL, then verify every table by count and content hash.

    Stop scheduled runs first: a run writing to the store during the copy makes the
    verification fail (and names the table). Afterwards point DOTSYNC_DATABASE_URL at
    the new database; nothing already sent is sent again.
    """
    from dotsync.cli_support import open_store, read_settings
    from dotsync.store import Store
    from dotsync.store.transfer import TransferError, copy_store

    settings = read_settings()
    if _same_database(settings.database_url, target_url):
        raise click.UsageError("--to names the staging store itself (DOTSYNC_DATABASE_URL); "
                               "name another database")
    source = open_store(settings)
    try:
        target = Store(target_url)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise click.UsageError(f"cannot open the target database (--to): "
                               f"{type(exc).__name__}: {first}") from None
    try:
        report = copy_store(source, target, force=force, chunk_rows=chunk_rows)
    except TransferError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        target.dispose()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"Copied {report.source} -> {report.target}")
        for name, n in report.replaced.items():
            click.echo(f"  replaced {n} rows the target held in {name} (--force)")
        width = max(len(t.table) for t in report.tables)
        for t in report.tables:
            mark = "verified" if t.verified else "MISMATCH"
            click.echo(f"  {t.table.ljust(width)}  {t.copied:>9} rows copied  "
                       f"{t.target_rows:>9} in target  hash {t.target_hash[:12]}  {mark}")
    if report.failed:
        click.echo(f"dotsync: verification failed for table(s) {', '.join(report.failed)}: "
                   "the target's rows differ from the store's (was a run writing during the "
                   "copy?). Keep using the old store; run migrate again with --force.",
                   err=True)
        sys.exit(1)
    if not as_json:
        click.echo("Every table verified. Point DOTSYNC_DATABASE_URL at the new database.")
