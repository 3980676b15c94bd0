"""The ``dotsync`` command line (SPEC §4).

Exit status: 0 when the command (or run) completed, even with rejected records;
1 when a run failed; 2 for a usage or configuration error, with a message naming
the problem. Commands that run flows import Prefect when they run, so ``load``,
``status`` and ``emulator`` stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from dotsync.config import ConfigError, Settings

ENTITY_CHOICE = click.Choice(["customers", "orders", "certificates"])


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from dotsync.store import Store

    try:
        return Store(settings.database_url)
    except Exception as exc:  # a bad URL or an unreachable database: a configuration error
        raise click.UsageError(
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


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@click.group()
@click.version_option(package_name="dotsync")
def main() -> None:
    """Keep Dotdigital in step with a shop's commerce data."""


@main.command()
@click.argument("entity", type=ENTITY_CHOICE)
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def load(entity: str, file: str, as_json: bool) -> None:
    """Upsert FILE (CSV, JSON Lines or Parquet) into the staging table ENTITY."""
    from dotsync.store import LoadError, load_file

    store = _store(_settings())
    try:
        report = load_file(store, entity, file)
    except LoadError as exc:
        raise click.UsageError(f"{file}: {exc}") from None
    if as_json:
        _echo_json(report.as_dict())
        return
    c = report.counts
    click.echo(
        f"{entity}: {report.rows} rows read from {file}: {c.inserted} inserted, "
        f"{c.updated} updated, {c.unchanged} unchanged, {len(report.problems)} rejected"
    )
    if report.duplicates:
        click.echo(
            f"  {report.duplicates} rows repeated a key earlier in the file; "
            "the last occurrence was kept"
        )
    for p in report.problems:
        where = f"line {p.line}" + (f" ({p.key})" if p.key else "")
        click.echo(f"  rejected {where}: {p.reason}", err=True)


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
def rejects(entity: str | None, as_json: bool) -> None:
    """Every rejected, failed or in-doubt record: entity, id, field, reason."""
    from dotsync.store.status import rejects as compute

    items = compute(_store(_settings()), entity)
    if as_json:
        _echo_json({"rejects": items, "count": len(items)})
        return
    if not items:
        click.echo("No rejected, failed or in-doubt records.")
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
