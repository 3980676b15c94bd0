"""``dotsync.*`` records in the Prefect UI's run logs.

The client logs its 429 waits, retries and region discovery, and the engine its
progress, on ``dotsync.*`` loggers. Prefect sends to the API only what reaches its own
loggers (or those named in ``PREFECT_LOGGING_EXTRA_LOGGERS`` before Prefect was
imported, which a worker's process may already have done). :func:`bridge` attaches the
handlers Prefect gives its extra loggers (the API handler) to the ``dotsync`` logger at
run time, and sets its level (``DOTSYNC_LOG_LEVEL``, default INFO, so a 429 wait is
visible in the UI).
"""

from __future__ import annotations

import logging

from dotsync import logs


def bridge() -> None:
    """Idempotent: called at the start of every run."""
    level = logs.hand_over() or "INFO"
    logger = logging.getLogger("dotsync")
    for handler in logging.getLogger("prefect.extra").handlers:
        if handler not in logger.handlers:
            logger.addHandler(handler)
    logger.setLevel(level)
