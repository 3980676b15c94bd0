"""Runtime errors of the command line: one line, no usage banner, SPEC §4 exit codes."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import Store


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DOTSYNC_DEBUG_LOG", str(tmp_path / "debug.log"))
    return CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Usage:" not in output and "Try " not in output
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["rejects"], ["trace", "orders", "O1"],
                                     ["replay"]])
def test_an_unreachable_database_is_one_line_and_exit_2(runner, monkeypatch, command):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL",
                       f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/none"
                       "?connect_timeout=3")
    result = runner.invoke(main, command)
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "DOTSYNC_DATABASE_URL" in line and line.startswith("dotsync: ")


def test_a_bad_toml_file_is_one_line_and_exit_2(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("DOTSYNC_DATABASE_URL")
    (tmp_path / "dotsync.toml").write_text('dotsync_database_url = "sqlite:///x.db\n')
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 2
    assert "dotsync.toml is not valid TOML" in _one_line(result.output)


@pytest.mark.parametrize(("name", "value"), [("DOTSYNC_MAX_SENDS_PER_RUN", "lots"),
                                             ("DOTSYNC_ATTEMPT_RETENTION_DAYS", "-3"),
                                             ("DOTSYNC_STRICT_FIELDS", "nmae")])
def test_a_bad_setting_names_itself_in_one_line(runner, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    result = runner.invoke(main, ["trace", "orders", "O1"])
    assert result.exit_code == 2
    assert name in _one_line(result.output)


def test_a_bad_setting_value_in_toml_is_one_line(runner, tmp_path, monkeypatch):
    (tmp_path / "dotsync.toml").write_text("dotsync_attempt_retention_days = \"soon\"\n")
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 2
    assert "DOTSYNC_ATTEMPT_RETENTION_DAYS" in _one_line(result.output)


def test_a_mistyped_command_line_keeps_clicks_usage_help(runner):
    result = runner.invoke(main, ["status", "--no-such-flag"])
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_an_unexpected_failure_is_not_called_configuration(runner, tmp_path, monkeypatch):
    """A bug is one line naming it and exit 1, its traceback kept in the debug log."""
    Store(f"sqlite:///{tmp_path / 'cli.db'}").dispose()

    def broken(*_a, **_k):
        raise ValueError("a bug deep inside")

    monkeypatch.setattr("dotsync.store.status.status", broken)
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert "ValueError: a bug deep inside" in line and "configuration" not in line
    kept = (tmp_path / "debug.log").read_text()
    assert "Traceback" in kept and "a bug deep inside" in kept
