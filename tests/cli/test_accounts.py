"""Several Dotdigital accounts in one dotsync.toml ([accounts.NAME] tables, issue 17)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.config import ConfigError, Settings

TOML = """
dotsync_default_region = "GB"
dotsync_insight_collection = "Orders"

[accounts.acme]
dotdigital_api_user = "apiuser-acme@apiconnector.com"
dotdigital_api_password = "acme-secret-pw"
dotsync_database_url = "sqlite:///{dir}/acme.db"
dotsync_fulfilled_statuses = ["shipped", "posted"]

[accounts.globex]
dotdigital_api_user = "apiuser-globex@apiconnector.com"
dotsync_database_url = "postgresql+psycopg://dotsync:globex-db-pw@db.internal/globex"
dotsync_default_region = "IE"
"""


@pytest.fixture
def toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The CLI's --account exports DOTSYNC_ACCOUNT; this restores it after each test.
    monkeypatch.setenv("DOTSYNC_ACCOUNT", "")
    for name in ("DOTDIGITAL_API_USER", "DOTDIGITAL_API_PASSWORD", "DOTSYNC_DATABASE_URL",
                 "DOTSYNC_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "dotsync.toml"
    path.write_text(TOML.format(dir=tmp_path))
    return path


def test_an_account_takes_its_table_then_the_shared_top_level(toml):
    acme = Settings.from_env(environ={}, toml_path=toml, account="acme")
    assert acme.account == "acme"
    assert acme.api_user == "apiuser-acme@apiconnector.com"
    assert acme.api_password.get_secret_value() == "acme-secret-pw"
    assert acme.database_url.endswith("/acme.db")
    assert acme.default_region == "GB"  # shared
    assert acme.insight_collection == "Orders"  # shared
    assert acme.fulfilled_statuses == ("shipped", "posted")
    globex = Settings.from_env(environ={}, toml_path=toml, account="globex")
    assert globex.default_region == "IE"  # its own wins over the shared one
    assert globex.api_password.get_secret_value() == ""  # never another account's password


def test_the_account_table_wins_over_the_environment_which_fills_the_rest(toml):
    env = {"DOTDIGITAL_API_USER": "someone-else@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "from-env",
           "DOTSYNC_DATABASE_URL": "sqlite:///elsewhere.db",
           "DOTSYNC_INSIGHT_COLLECTION": "EnvPurchases"}
    globex = Settings.from_env(environ=env, toml_path=toml, account="globex")
    assert globex.api_user == "apiuser-globex@apiconnector.com"
    assert globex.database_url.endswith("/globex")
    assert globex.api_password.get_secret_value() == "from-env"  # not in its table
    assert globex.insight_collection == "EnvPurchases"  # the environment over the top level


def test_without_an_account_the_top_level_is_the_configuration(toml):
    plain = Settings.from_env(environ={"DOTSYNC_DATABASE_URL": "sqlite:///x.db"},
                              toml_path=toml)
    assert plain.account is None
    assert plain.api_user == ""
    assert plain.database_url == "sqlite:///x.db"
    assert plain.insight_collection == "Orders"


def test_dotsync_account_in_the_environment_chooses(toml):
    s = Settings.from_env(environ={"DOTSYNC_ACCOUNT": "acme"}, toml_path=toml)
    assert s.account == "acme" and s.api_user.startswith("apiuser-acme")


def test_an_unknown_account_names_the_known_ones(toml):
    with pytest.raises(ConfigError, match=r"no account named 'initech'.*acme, globex"):
        Settings.from_env(environ={}, toml_path=toml, account="initech")


@pytest.mark.parametrize("body, message", [
    ('[accounts.a]\ndotsync_database_url = "sqlite:///same.db"\n'
     '[accounts.b]\ndotsync_database_url = "sqlite:///same.db"\n',
     "accounts 'a' and 'b' have the same dotsync_database_url"),
    ('[accounts.a]\ndotdigital_api_user = "u"\n', r"\[accounts.a\] has no dotsync_database_url"),
    ('dotsync_database_url = "sqlite:///top.db"\n'
     '[accounts.a]\ndotsync_database_url = "sqlite:///top.db"\n',
     "account 'a' uses the top-level dotsync_database_url"),
    ('[accounts.Big]\ndotsync_database_url = "sqlite:///b.db"\n', "account name 'Big'"),
    ('accounts = 3\n', "'accounts' must be a table"),
])
def test_accounts_that_would_share_a_ledger_or_are_malformed_are_refused(
        tmp_path, body, message):
    path = tmp_path / "dotsync.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ={}, toml_path=path, account="a")


def test_accounts_list_never_shows_a_password(toml):
    result = CliRunner().invoke(main, ["accounts", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [a["account"] for a in listed] == ["acme", "globex"]
    assert listed[1]["database"] == "postgresql+psycopg://dotsync:***@db.internal/globex"
    assert "pw" not in result.output
    text = CliRunner().invoke(main, ["accounts", "list"])
    assert "acme: apiuser-acme@apiconnector.com" in text.output
    assert "globex-db-pw" not in text.output


def test_dotsync_account_option_picks_the_store(toml, tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(
        [{"customer_id": "c1", "email": "a@example.com", "updated_at": "2024-01-01"}]))
    result = CliRunner().invoke(main, ["--account", "acme", "load", "customers", "c.json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "acme.db").is_file()
    assert not (tmp_path / "dotsync.db").exists()


def test_an_unknown_account_option_is_a_usage_error(toml):
    result = CliRunner().invoke(main, ["--account", "initech", "status"])
    assert result.exit_code == 2
    assert "no account named 'initech'" in result.output


def test_dotsync_config_names_the_file_wherever_the_run_starts(toml, tmp_path, monkeypatch):
    """A Prefect process worker starts each run in a temporary directory: the worker
    names its dotsync.toml with DOTSYNC_CONFIG."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError, match="no account named 'acme'"):
        Settings.from_env(environ={}, account="acme")
    acme = Settings.from_env(environ={"DOTSYNC_CONFIG": str(toml)}, account="acme")
    assert acme.api_user == "apiuser-acme@apiconnector.com"
    monkeypatch.setenv("DOTSYNC_CONFIG", str(toml))
    listed = CliRunner().invoke(main, ["accounts", "list", "--json"])
    assert [a["account"] for a in json.loads(listed.output)] == ["acme", "globex"]


def test_a_document_stands_in_for_the_file_with_the_same_precedence(toml, monkeypatch):
    """Settings kept elsewhere (the Prefect Variables of deployed runs) are read as the
    file would be: the file on this host is not read, the account's table still wins
    over the environment, which still wins over the shared keys."""
    monkeypatch.setenv("DOTSYNC_DEFAULT_REGION", "US")
    monkeypatch.setenv("DOTSYNC_INSIGHT_COLLECTION", "FromEnv")
    document = {"dotsync_insight_collection": "Shared", "dotsync_default_region": "GB",
                "accounts": {"acme": {"dotsync_database_url": "sqlite:////srv/acme.db",
                                      "dotsync_default_region": "IE"}}}
    settings = Settings.from_env(account="acme", document=document)
    assert settings.database_url == "sqlite:////srv/acme.db"  # not the file's
    assert settings.default_region == "IE"  # the table over the environment
    assert settings.insight_collection == "FromEnv"  # the environment over shared keys
    assert settings.api_user == ""  # the file's user for acme was not read
    with pytest.raises(ConfigError, match="no account named 'globex'"):
        Settings.from_env(account="globex", document=document)
