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

The rest of the configuration can live in Prefect too, as Variables holding the
lower-case keys of ``dotsync.toml`` (SPEC §3) as a JSON object: ``dotsync-settings``
(the top level, shared by every account) and ``dotsync-settings-NAME`` (an
``[accounts.NAME]`` table). When the run's Variable exists (``dotsync-settings-NAME``
for a run of account NAME, ``dotsync-settings`` for one without an account), the
Variables are the run's configuration file and the worker's ``dotsync.toml`` is not
read, so a worker on a new host needs no file. The environment keeps its usual place.
A Variable is not secret: one holding the API password or a database URL with a
password is refused, naming the Secret or credentials block to use instead.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import sqlalchemy as sa

from dotsync.accounts import ACCOUNT_ENV
from dotsync.config import ConfigError, Settings

logger = logging.getLogger("dotsync.config")

#: The Secret block holding the staging database URL of the default configuration.
DATABASE_URL_BLOCK = "dotsync-database-url"
#: The Variable holding the top-level settings (``dotsync-settings-NAME``: an account's).
SETTINGS_VARIABLE = "dotsync-settings"


def settings_variable(account: str | None) -> str:
    """The Variable name for ``account``'s settings table (its own, not the shared)."""
    return f"{SETTINGS_VARIABLE}-{account}" if account else SETTINGS_VARIABLE


def shared_settings(account: str | None = None) -> Settings:
    """A flow run's settings: the Variables' document when the run's Variable exists,
    else ``dotsync.toml`` (:meth:`Settings.from_env`), then the database URL of the
    account's Secret block (:func:`apply_shared_config`)."""
    chosen = account or os.environ.get(ACCOUNT_ENV) or None
    return apply_shared_config(
        Settings.from_env(account=chosen, document=shared_document(chosen)))


def shared_document(account: str | None) -> dict[str, Any] | None:
    """``dotsync.toml``'s shape from the Prefect Variables, or None (outside a flow run,
    or when the run's Variable does not exist: the file decides, as before)."""
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:  # a command outside a flow run asks no server
        return None
    return variables_document(account)


def variables_document(account: str | None) -> dict[str, Any] | None:
    """``dotsync.toml``'s shape from the Prefect Variables when ``account``'s own Variable
    exists, else None (the file decides). What a run of ``account`` reads; the commands
    that act for every account (``accounts sync-limits``, ``serve --all-accounts``) read
    it too, so they see each account as its runs will."""
    from prefect.variables import Variable

    own = Variable.get(settings_variable(account), default=None)
    if own is None:
        return None
    top = Variable.get(SETTINGS_VARIABLE, default=None) if account else own
    _check_variable(settings_variable(account), own, database_url_block(account))
    _check_variable(SETTINGS_VARIABLE, top, database_url_block(None))
    document = {k: v for k, v in (top or {}).items() if k != "accounts"}
    if account:
        table = dict(own)
        if "dotsync_database_url" not in table:  # kept in the account's Secret block
            url = _secret_url(account)
            if not url:
                raise ConfigError(
                    f"Prefect Variable {settings_variable(account)!r} has no "
                    f"dotsync_database_url and there is no Secret block "
                    f"{database_url_block(account)!r}: each account needs its own staging "
                    "database (its ledger is what keeps sends exactly once)")
            table["dotsync_database_url"] = url
        document["accounts"] = {account: table}
    logger.info("settings from the Prefect Variable %r%s", settings_variable(account),
                f" and {SETTINGS_VARIABLE!r}" if account and top is not None else "")
    return document


def _check_variable(name: str, value: Any, url_block: str) -> None:
    """A settings Variable is a flat JSON object holding nothing secret."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ConfigError(f"Prefect Variable {name!r} must be a JSON object of dotsync.toml's "
                          f"lower-case keys, not {type(value).__name__}")
    for key, item in value.items():
        if isinstance(item, dict):
            raise ConfigError(f"Prefect Variable {name!r}: {key!r} holds a table; a settings "
                              "Variable holds settings only (an account has its own Variable)")
        if key == "dotdigital_api_password":
            raise ConfigError(f"Prefect Variable {name!r} holds {key}: Variables are not "
                              "secret; keep the password in a DotdigitalCredentials block "
                              "(dotsync_credentials_block names it)")
        if key == "dotsync_database_url" and _has_password(str(item)):
            raise ConfigError(f"Prefect Variable {name!r}: {key} carries a password; keep "
                              f"the URL in the Secret block {url_block!r}")


def _has_password(url: str) -> bool:
    try:
        return sa.make_url(url).password is not None
    except sa.exc.ArgumentError:
        return False


def _secret_url(account: str) -> str | None:
    from prefect.blocks.system import Secret

    try:
        return str(Secret.load(database_url_block(account)).get()) or None
    except ValueError:
        return None


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
