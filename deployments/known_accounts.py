"""Which accounts a deployed setup has, for the commands that act for every account.

``dotsync accounts sync-limits`` and ``dotsync serve --all-accounts`` act for each
account. On one host the accounts are the ``[accounts.NAME]`` tables of
``dotsync.toml``; on a deployed setup they live in Prefect instead, as Variables
``dotsync-settings-NAME`` (:mod:`dotsync.flows.shared_config`), and an operator may
have no local file at all. The accounts are therefore the union of both: every table
of the local file and every ``dotsync-settings-NAME`` Variable on the server.

Where both name an account, its Variable wins, the precedence its runs follow: a run
of an account whose Variable exists reads the Variables and never the worker's file,
so sizing its limits from the file would give it a budget its runs do not use. Each
account's settings are read here exactly as its runs read them
(:func:`dotsync.flows.shared_config.variables_document`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dotsync.flows.shared_config import SETTINGS_VARIABLE, settings_variable, variables_document

from dotsync.accounts import ACCOUNT_ENV, is_account_name
from dotsync.accounts_cli import describe_accounts
from dotsync.config import ConfigError, Settings

_PREFIX = f"{SETTINGS_VARIABLE}-"
_PAGE = 200  # the server's largest page


@dataclass(frozen=True)
class Account:
    """One account found, and where its settings come from."""

    name: str | None  # None: the single configuration (no accounts anywhere)
    in_file: bool
    in_variables: bool
    settings: Settings

    def source(self) -> str:
        """Where the settings were read, for the operator."""
        if self.in_variables:
            over = (f" (over dotsync.toml's [accounts.{self.name}])" if self.in_file
                    else "")
            return f"the Prefect Variable {settings_variable(self.name)!r}{over}"
        return "dotsync.toml"


def variable_accounts(client: Any) -> list[str]:
    """The NAMEs of the server's ``dotsync-settings-NAME`` Variables, sorted."""
    names: set[str] = set()
    offset = 0
    while True:
        answer = client.request("POST", "/variables/filter", json={
            "variables": {"name": {"like_": f"{_PREFIX}%"}},
            "limit": _PAGE, "offset": offset})
        answer.raise_for_status()
        page = answer.json()
        for variable in page:
            name = str(variable["name"])
            if not name.startswith(_PREFIX):  # the server's match is looser
                continue
            account = name[len(_PREFIX):]
            if not is_account_name(account):
                raise ConfigError(
                    f"Prefect Variable {name!r}: {account!r} is not an account name (1-40 "
                    "lower-case letters, digits, '-' or '_', starting with a letter or digit)")
            names.add(account)
        if len(page) < _PAGE:
            return sorted(names)
        offset += _PAGE


def account_settings(account: str | None) -> Settings:
    """``account``'s settings as its runs read them: from the Prefect Variables when its
    Variable exists, else from ``dotsync.toml`` (and the environment, in its place)."""
    chosen = account or os.environ.get(ACCOUNT_ENV) or None
    document = variables_document(chosen)
    if document is None and chosen is not None and chosen not in _file_accounts():
        raise ConfigError(f"no account named {chosen!r}: no [accounts.{chosen}] table in "
                          f"dotsync.toml and no Prefect Variable {settings_variable(chosen)!r}")
    return Settings.from_env(account=chosen, document=document)


def _file_accounts() -> set[str]:
    return {str(a["account"]) for a in describe_accounts()}


def known_accounts(client: Any) -> list[Account]:
    """Every account of the local file and of the server's Variables, by name; the
    single configuration (``name`` None) when neither names any. Raises
    :class:`ConfigError` for an account whose settings are wrong, or for two accounts
    sharing one staging database (one ledger would stop the other's sends)."""
    in_file = _file_accounts()
    in_variables = set(variable_accounts(client))
    names: list[str | None] = sorted(in_file | in_variables) or [None]
    found = [Account(name, name in in_file, name in in_variables, account_settings(name))
             for name in names]
    seen: dict[str, str | None] = {}
    for account in found:
        url = account.settings.database_url
        if url in seen:
            raise ConfigError(f"accounts {seen[url]!r} and {account.name!r} have the same "
                              "dotsync_database_url; each account needs its own staging "
                              "database")
        seen[url] = account.name
    return found
