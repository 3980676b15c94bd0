"""The terminal progress line: on a TTY only, throttled, with rate and time left."""

from __future__ import annotations

import io

from click.testing import CliRunner

from dotsync.cli import main
from dotsync.progress import ENV, ProgressLine


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_tty_gets_one_line_rewritten_with_rate_and_time_left(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    out, clock = _Tty(), _Clock()
    line = ProgressLine("backfill", 1_000, unit="rows", stream=out, clock=clock)
    clock.now += 10
    line.update(250)
    clock.now += 0.1
    line.update(260)  # within half a second: not written
    clock.now += 10
    line.update(500)
    line.close()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "backfill: 250/1,000 rows, 25%, 25/s, about 0m30s left" in text
    assert "260" not in text
    assert "500/1,000 rows, 50%" in text


def test_quiet_when_not_a_tty_or_told_so(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    plain = io.StringIO()
    line = ProgressLine("sync", stream=plain)
    line.add(5)
    line.close()
    assert plain.getvalue() == ""
    monkeypatch.setenv(ENV, "0")
    tty = _Tty()
    quiet = ProgressLine("sync", stream=tty)
    quiet.add(5)
    quiet.close()
    assert tty.getvalue() == ""


def test_without_a_total_it_counts_and_gives_the_rate(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    clock = _Clock()
    line = ProgressLine("sync: settled", stream=_Tty(), clock=clock)
    clock.now += 4
    line.add(200)
    assert line.text() == "sync: settled: 200 records, 50/s"


def test_load_prints_no_progress_when_not_a_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    (tmp_path / "c.csv").write_text("customer_id,email,updated_at\nc1,jo@example.com,2024-01-01\n")
    result = CliRunner().invoke(main, ["load", "customers", "c.csv"])
    assert result.exit_code == 0
    assert "\r" not in result.output and "loading customers" not in result.output
