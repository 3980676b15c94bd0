"""``dotsync load``: a file (or a platform's own API payloads) into the staging store."""

from __future__ import annotations

import sys
from typing import Any

import click

from dotsync.cli_support import ENTITY_CHOICE, echo_json, open_store, read_settings


@click.command("load")
@click.argument("entity", type=click.Choice([*ENTITY_CHOICE.choices, "carts", "products",
                                             "creditmemos", "shipments", "giftcardaccounts"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--format", "platform", default=None,
              type=click.Choice(["adobe-commerce", "commercetools", "shopify"]),
              help="FILE holds this platform's own API payloads (see docs/SOURCES.md).")
@click.option("--certificate-link", default=None, metavar="TEMPLATE",
              help="With --format: gift card link, e.g. 'https://shop.example/gift?c={code}'.")
@click.option("--problems", "problems_file", default=None, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=str),
              help="Write every rejected row or object to FILE (JSON Lines); the output "
              "shows the first 1,000 and counts the rest by reason.")
def load_command(entity: str, file: str, as_json: bool, platform: str | None,
         certificate_link: str | None, problems_file: str | None) -> None:
    """Upsert FILE (CSV, JSON Lines, a JSON array or Parquet) into the staging table ENTITY.

    With --format, FILE holds a platform's own API payloads (docs/SOURCES.md).
    Exit status 2 when the file as a whole is refused (unreadable, unknown type,
    unknown columns in its header); 1 when rows were read but not one could be
    loaded (the wrong file, or the wrong ENTITY), with the first reasons.
    """
    from dotsync.progress import ProgressLine
    from dotsync.store import LoadError, load_file

    store = open_store(read_settings())
    line = ProgressLine(f"loading {entity}", unit="rows")
    line.enabled = line.enabled and not as_json
    try:
        if platform is not None:
            from dotsync.sources.load import load_platform_file

            report = load_platform_file(store, platform, entity, file,
                                        link_template=certificate_link,
                                        problems_file=problems_file)
        else:
            from dotsync.sources import STAGED_AS

            if entity in STAGED_AS:
                raise click.UsageError(f"{entity} are a platform's documents: load them "
                                       "with --format adobe-commerce")
            report = load_file(store, entity, file, on_progress=line.update,
                               problems_file=problems_file)
    except LoadError as exc:
        raise click.UsageError(f"{file}: {exc}") from None
    finally:
        line.close()
    if as_json:
        echo_json(report.as_dict())
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
