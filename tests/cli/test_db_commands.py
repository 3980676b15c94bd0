"""dotsync db upgrade / current / history from the command line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import Store, revisions


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner()


def test_upgrade_creates_the_store_then_does_nothing_and_current_prints_the_revision(
        runner, tmp_path):
    head = revisions.head()
    before = runner.invoke(main, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert before.output.startswith("none")
    first = runner.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"from revision none to {head}" in first.output
    again = runner.invoke(main, ["db", "upgrade", "--json"])
    assert json.loads(again.output) == {"from": head, "to": head, "changed": False}
    current = runner.invoke(main, ["db", "current"])
    assert current.output.strip() == f"{head} (head)"
    as_json = runner.invoke(main, ["db", "current", "--json"])
    assert json.loads(as_json.output) == {"current": head, "head": head, "at_head": True}
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    assert store.count_staged("customers") == 0
    store.dispose()


def test_upgrade_brings_a_store_from_the_old_version_table_onto_alembic(runner, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    with store.engine.begin() as conn:  # as the old code left it: no alembic_version
        conn.execute(sa.text("DROP TABLE alembic_version"))
    store.dispose()
    assert runner.invoke(main, ["db", "current"]).output.startswith("none")
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"to {revisions.head()}" in result.output


def test_history_lists_the_baseline(runner):
    result = runner.invoke(main, ["db", "history"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(f"{revisions.BASELINE}  (first)")


def test_an_unreachable_database_is_a_configuration_error_without_the_url(runner, monkeypatch):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL",
                       "postgresql+psycopg://dotsync:s3cret-pw@127.0.0.1:1/none")
    result = runner.invoke(main, ["db", "current"])
    assert result.exit_code != 0
    assert "DOTSYNC_DATABASE_URL" in result.output
    assert "s3cret-pw" not in result.output
