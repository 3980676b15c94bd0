"""``dotsync db upgrade|current|history``: the staging store's schema revision.

Opening the store upgrades it too (every command does); ``db upgrade`` does it on its
own, e.g. from a deployment step before the first run, and says what it did.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import click
import sqlalchemy as sa

T = TypeVar("T")


def _on_store(work: Callable[[sa.Engine], T]) -> T:
    """Run ``work`` on an engine for the configured store; an unreachable database or
    a bad URL is a configuration error naming the variable, never echoing the URL."""
    from dotsync.cli_errors import ConfigurationError
    from dotsync.cli_support import first_line, read_settings
    from dotsync.store.db import create_engine
    from dotsync.store.revisions import SchemaTooNewError

    engine = create_engine(read_settings().database_url)
    try:
        return work(engine)
    except SchemaTooNewError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigurationError(
            f"cannot open the staging store (DOTSYNC_DATABASE_URL): {type(exc).__name__}: "
            f"{first_line(exc)}") from None
    finally:
        engine.dispose()


def _current(engine: sa.Engine) -> str | None:
    from dotsync.store import revisions

    with engine.connect() as conn:
        return revisions.current(conn)


@click.group()
def db_command() -> None:
    """The staging store's schema: which revision it is at, and upgrading it."""


@db_command.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def upgrade_command(as_json: bool) -> None:
    """Create the store's tables, or upgrade an existing store to this dotsync's newest
    revision (a store from before Alembic included). Running it again does nothing."""
    from dotsync.store import migrations

    def work(engine: sa.Engine) -> tuple[str | None, str | None]:
        before = _current(engine)
        migrations.migrate(engine)
        return before, _current(engine)

    before, after = _on_store(work)
    if as_json:
        click.echo(json.dumps({"from": before, "to": after, "changed": before != after}))
    elif before == after:
        click.echo(f"The staging store is already at revision {after} (head).")
    else:
        click.echo(f"Upgraded the staging store from revision {before or 'none'} to {after}.")


@db_command.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def current_command(as_json: bool) -> None:
    """Print the store's revision (read only: this does not upgrade it)."""
    from dotsync.store import revisions

    found = _on_store(_current)
    head = revisions.head()
    if as_json:
        click.echo(json.dumps({"current": found, "head": head, "at_head": found == head}))
    elif found is None:
        click.echo(f"none (no revision yet; `dotsync db upgrade` brings it to {head})")
    else:
        click.echo(f"{found}{' (head)' if found == head else f' (head is {head})'}")


@db_command.command("history")
def history_command() -> None:
    """List the revisions this dotsync knows, newest first."""
    from dotsync.store import revisions

    for item in revisions.history():
        title = item.doc.splitlines()[0] if item.doc else ""
        after = f"after {item.down_revision}" if item.down_revision else "first"
        click.echo(f"{item.revision}  ({after})  {title}")

