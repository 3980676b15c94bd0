"""Several Dotdigital accounts in one ``dotsync.toml``: ``[accounts.NAME]`` tables.

An agency runs dotsync for many shops, each with its own Dotdigital account. Each
account is a table of the same lower-case keys as the top level of the file (SPEC §3):

.. code-block:: toml

    dotsync_default_region = "GB"           # shared by every account

    [accounts.acme]
    dotdigital_api_user = "apiuser-acme@apiconnector.com"
    dotsync_database_url = "postgresql+psycopg://dotsync@db/acme"

    [accounts.globex]
    dotdigital_api_user = "apiuser-globex@apiconnector.com"
    dotsync_database_url = "postgresql+psycopg://dotsync@db/globex"

An account is chosen with ``dotsync --account NAME`` or ``DOTSYNC_ACCOUNT``; without one,
the top level is the configuration, as before accounts existed.

Precedence for a chosen account: its own table, then the environment, then the top
level of the file. The account's table wins over the environment (unlike the top
level) because it is the more specific choice: a worker serving several accounts has
one environment, and a ``DOTDIGITAL_API_USER`` exported there must not send one
shop's data to another shop's account. Each account must name its own staging
database: two accounts sharing one would share one ledger, and a ledger that says a
certificate was sent for one shop would stop it being sent for the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The environment variable that chooses an account (``dotsync --account`` sets it).
ACCOUNT_ENV = "DOTSYNC_ACCOUNT"
#: What an account name may be: it becomes part of deployment names and tags.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_DATABASE_KEY = "dotsync_database_url"


def is_account_name(name: str) -> bool:
    """Whether ``name`` may name an account (it becomes part of deployment names)."""
    return bool(_NAME.match(name))


class AccountError(ValueError):
    """The ``[accounts]`` part of ``dotsync.toml`` is wrong, or names no such account."""


def account_tables(file_values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``[accounts.NAME]`` tables of a parsed ``dotsync.toml``, checked."""
    raw = file_values.get("accounts")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise AccountError("dotsync.toml: 'accounts' must be a table of [accounts.NAME] tables")
    tables: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not is_account_name(str(name)):
            raise AccountError(
                f"dotsync.toml: account name {name!r} must be 1-40 lower-case letters, "
                "digits, '-' or '_', starting with a letter or digit"
            )
        if not isinstance(table, Mapping):
            raise AccountError(f"dotsync.toml: [accounts.{name}] must be a table of settings")
        nested = [k for k, v in table.items() if isinstance(v, Mapping)]
        if nested:
            raise AccountError(f"dotsync.toml: [accounts.{name}] holds a table {nested[0]!r}; "
                               "an account holds settings only")
        tables[str(name)] = dict(table)
    return tables


def file_layer(file_values: Mapping[str, Any], account: str | None) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """(the account's own values, the shared top-level values) for ``account``.

    Without an account, the first is empty and the second is the file's top level.
    Raises :class:`AccountError` for an unknown account, or for one that would share a
    staging database with another.
    """
    top = {k: v for k, v in file_values.items() if k != "accounts"}
    if account is None:
        return {}, top
    tables = account_tables(file_values)
    if account not in tables:
        known = ", ".join(sorted(tables)) or "none are configured"
        raise AccountError(f"no account named {account!r} in dotsync.toml "
                           f"([accounts.NAME] tables: {known})")
    _check_own_databases(tables, top)
    return tables[account], top


def _check_own_databases(tables: Mapping[str, Mapping[str, Any]],
                         top: Mapping[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name in sorted(tables):
        url = tables[name].get(_DATABASE_KEY)
        if url is None:
            raise AccountError(
                f"dotsync.toml: [accounts.{name}] has no {_DATABASE_KEY}: each account needs "
                "its own staging database (its ledger is what keeps sends exactly once)"
            )
        other = seen.get(str(url))
        if other is not None:
            raise AccountError(
                f"dotsync.toml: accounts {other!r} and {name!r} have the same "
                f"{_DATABASE_KEY}; each account needs its own staging database"
            )
        seen[str(url)] = name
    if top.get(_DATABASE_KEY) is not None and str(top[_DATABASE_KEY]) in seen:
        name = seen[str(top[_DATABASE_KEY])]
        raise AccountError(
            f"dotsync.toml: account {name!r} uses the top-level {_DATABASE_KEY}; "
            "give it a database of its own"
        )
