"""``dotsync -v`` / ``--log-level``: dotsync's own records on stderr, at the level asked."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from dotsync import logs
from dotsync.cli import main


@pytest.fixture(autouse=True)
def _restore_logger(monkeypatch):
    logger = logging.getLogger("dotsync")
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    monkeypatch.delenv(logs.LEVEL_ENV, raising=False)
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.parametrize(("verbose", "level", "expected"), [
    (0, None, None), (1, None, "INFO"), (2, None, "DEBUG"), (5, None, "DEBUG"),
    (2, "warning", "WARNING"), (0, "error", "ERROR")])
def test_the_level_chosen(verbose, level, expected):
    assert logs.chosen_level(verbose, level) == expected


def test_configure_prints_dotsync_records_once_then_hands_over(capsys, monkeypatch):
    logs.configure("INFO")
    logging.getLogger("dotsync.dotdigital").info("rate limited; waiting 2.0 s")
    logging.getLogger("dotsync.dotdigital").debug("not shown at INFO")
    err = capsys.readouterr().err
    assert err.count("rate limited; waiting 2.0 s") == 1 and "not shown" not in err
    import os
    assert os.environ[logs.LEVEL_ENV] == "INFO"
    assert logs.hand_over() == "INFO"
    assert not [h for h in logging.getLogger("dotsync").handlers
                if isinstance(h, logs._TerminalHandler)]
    assert logging.getLogger("dotsync").propagate is True


def test_the_group_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["-vv", "status"]).exit_code == 0
    assert logging.getLogger("dotsync").level == logging.DEBUG
    bad = runner.invoke(main, ["--log-level", "loud", "status"])
    assert bad.exit_code == 2 and "loud" in bad.output
