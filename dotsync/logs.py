"""Log levels of the ``dotsync.*`` loggers, chosen on the command line.

``dotsync -v`` (INFO), ``-vv`` (DEBUG) or ``--log-level LEVEL`` sets the level of the
``dotsync`` logger and ``DOTSYNC_LOG_LEVEL`` for the flows this process runs. Until a
flow run sets Prefect's logging up, the records go to stderr through a handler of their
own; :func:`dotsync.flows.logs.bridge` then hands them to Prefect (terminal and the run's logs
in the UI) and removes that handler, so no line is printed twice.
"""

from __future__ import annotations

import logging
import os
import sys

LEVEL_ENV = "DOTSYNC_LOG_LEVEL"
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")


class _TerminalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler of a command that runs no flow (marked, so it can be removed)."""


def chosen_level(verbose: int, log_level: str | None) -> str | None:
    """``--log-level`` wins; else ``-v`` INFO, ``-vv`` DEBUG; else None (defaults)."""
    if log_level:
        return log_level.upper()
    if verbose <= 0:
        return None
    return "INFO" if verbose == 1 else "DEBUG"


def configure(level: str) -> None:
    """Send ``dotsync.*`` records at ``level`` and above to stderr, and tell flows."""
    os.environ[LEVEL_ENV] = level
    logger = logging.getLogger("dotsync")
    logger.setLevel(level)
    if not any(isinstance(h, _TerminalHandler) for h in logger.handlers):
        handler = _TerminalHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        # Records stop here: the root logger's handlers (if any) would print them again.
        logger.propagate = False


def hand_over() -> str | None:
    """Remove the stderr handler and let records propagate again (Prefect's console
    prints them from now on); returns the level chosen, if any."""
    logger = logging.getLogger("dotsync")
    for handler in [h for h in logger.handlers if isinstance(h, _TerminalHandler)]:
        logger.removeHandler(handler)
        logger.propagate = True
    return os.environ.get(LEVEL_ENV) or None
