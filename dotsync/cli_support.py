"""What the ``dotsync`` commands share: settings and the store opened with one-line
errors, tables and JSON on the terminal, and a run report's summary.

Plain (no Prefect): the commands that run flows, on the Prefect side, print through the
same helpers as the plain ones, so every command reads alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from dotsync.cli_errors import ConfigurationError
from dotsync.config import ConfigError, Settings

ENTITY_CHOICE = click.Choice(["customers", "orders", "certificates"])


def read_settings() -> Settings:
    """Settings from the environment / ``dotsync.toml``; a problem is a usage error (exit 2)."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise ConfigurationError(str(exc)) from None


def open_store(settings: Settings):  # type: ignore[no-untyped-def]
    """The staging store; a bad URL or an unreachable database is a configuration error."""
    from dotsync.store import Store

    try:
        return Store(settings.database_url)
    except Exception as exc:  # a bad URL or an unreachable database: a configuration error
        raise ConfigurationError(
            f"cannot open the staging store (DOTSYNC_DATABASE_URL): {type(exc).__name__}: "
            f"{first_line(exc)}"
        ) from None


@contextmanager
def ledger_writer_of(store: Any, command: str, run_id: str | None = None) -> Iterator[None]:
    """Hold the account's ledger while a command writes it (:mod:`dotsync.store.writer`).

    A command that writes the ledger outside a flow run (``replay``, ``resend``,
    ``sync --assume-sent-before``) is one more writer of it: a sync or backfill settling
    the same rows meanwhile could have its outcome overwritten, or overwrite the
    command's. So it waits for a running one, and says which, on stderr (stdout stays
    the command's answer, JSON included).
    """
    import uuid

    from dotsync.store.writer import ledger_writer

    with ledger_writer(store.engine, flow=f"{command} (command line)",
                       run_id=run_id or uuid.uuid4().hex,
                       on_wait=lambda line: click.echo(f"dotsync: {line}", err=True)):
        yield


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def cut(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


def print_summary(report: dict[str, Any]) -> None:
    """A run's report as a person reads it: counts per entity, then what needs attention."""
    headers = ["entity", "considered", "sent", "unchanged", "rejected", "failed", "skipped",
               "in_doubt"]
    # The catalogue, carts and programs only when the run had any (most shops sync the
    # first four alone).
    rows = [
        [entity] + [report[entity].get(h, 0) for h in headers[1:]]
        for entity in ("contacts", "orders", "confirmations", "certificates", "products",
                       "carts", "cart_enrolments", "program_enrolments")
        if entity in report and (entity in ("contacts", "orders", "confirmations",
                                            "certificates")
                                 or report[entity].get("considered"))
    ]
    dry = " (dry run: nothing was sent)" if report.get("dry_run") else ""
    click.echo(f"Run {report.get('run_id')} {report.get('status')}{dry} in "
               f"{report.get('duration_seconds', 0):.1f}s, {report.get('api_calls_total', 0)} "
               f"API calls ({report.get('write_calls', 0)} writes)")
    click.echo(table(headers, rows))
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
        click.echo(table(
            ["entity", "id", "state", "field", "reason"],
            [[p["entity"], p["key"], p["state"], p.get("field") or "", cut(p["reason"], 110)]
             for p in problems[:50]],
        ))
        if len(problems) > 50:
            click.echo(f"... and {len(problems) - 50} more: run `dotsync rejects`.")
