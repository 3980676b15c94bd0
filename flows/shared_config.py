"""Configuration kept in Prefect, so workers on several hosts need no file of their own.

A worker on a new host has the package installed and ``PREFECT_API_URL`` set, nothing
else: no ``dotsync.toml``, no ``DOTSYNC_DATABASE_URL``. An account's staging database
URL (which carries the database password) is kept in a Prefect ``Secret`` block named
``dotsync-database-url`` (``dotsync-database-url-NAME`` for an ``[accounts.NAME]``),
read by the run itself when it starts: it is never copied into a deployment, a job's
environment or a log. The API credentials live in a ``DotdigitalCredentials`` block
(``deployments/credentials.py``) as before.

When the block exists it wins over the worker's environment: every worker must write
the account's one ledger, and a worker left with an old ``DOTSYNC_DATABASE_URL`` would
otherwise keep a ledger of its own (and send gift certificates again).
"""

from __future__ import annotations

import logging

from dotsync.config import Settings

logger = logging.getLogger("dotsync.config")

#: The Secret block holding the staging database URL of the default configuration.
DATABASE_URL_BLOCK = "dotsync-database-url"


def database_url_block(account: str | None) -> str:
    """The Secret block name for ``account``'s database URL."""
    return f"{DATABASE_URL_BLOCK}-{account}" if account else DATABASE_URL_BLOCK


def apply_shared_config(settings: Settings) -> Settings:
    """``settings`` with the database URL of the account's Secret block, when one exists
    (in a flow run: deployed runs, and ``dotsync sync`` and the like on the command line)."""
    from prefect.blocks.system import Secret
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:  # a command outside a flow run asks no server
        return settings
    name = database_url_block(settings.account)
    try:
        block = Secret.load(name)
    except ValueError:  # no such block: the environment / dotsync.toml decide
        return settings
    url = str(block.get())
    if not url:
        return settings
    logger.info("staging database from the Prefect Secret block %r", name)
    return settings.model_copy(update={"database_url": url})
