"""Settings (SPEC §3) as a pydantic-settings model: every variable's name unchanged, read
from the environment and from ``dotsync.toml`` in lower case, one secret type, and errors
that name the variable and never the password."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from dotsync.config import ConfigError, Secret, Settings

NO_FILE = "/nonexistent/dotsync.toml"

#: Every SPEC §3 variable (and the documented extensions): a good value as text, and the
#: field it sets with the value it must become.
GOOD = {
    "DOTDIGITAL_API_USER": ("apiuser-x@apiconnector.com", "api_user",
                            "apiuser-x@apiconnector.com"),
    "DOTDIGITAL_API_ENDPOINT": ("https://r2-api.dotdigital.com", "api_endpoint",
                                "https://r2-api.dotdigital.com"),
    "DOTSYNC_DATABASE_URL": ("sqlite:///other.db", "database_url", "sqlite:///other.db"),
    "DOTSYNC_DEFAULT_REGION": (" gb ", "default_region", "GB"),
    "DOTSYNC_INSIGHT_COLLECTION": ("Orders", "insight_collection", "Orders"),
    "DOTSYNC_ORDER_CAMPAIGN": ("Order confirmation", "order_campaign", "Order confirmation"),
    "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": ("1001", "certificate_campaign_id", 1001),
    "DOTSYNC_ADDRESS_BOOK_ID": (" 42 ", "address_book_id", 42),
    "DOTSYNC_CALLS_PER_MINUTE": ("60", "calls_per_minute", 60),
    "DOTSYNC_CONTACT_BULK_THRESHOLD": ("50", "contact_bulk_threshold", 50),
    "DOTSYNC_PROPAGATE_DELETES": ("yes", "propagate_deletes", True),
    "DOTSYNC_PREFLIGHT_ACCEPT": ("region, list", "preflight_accept", ("region", "list")),
    "DOTSYNC_FULFILLED_STATUSES": ("Shipped,POSTED", "fulfilled_statuses",
                                   ("shipped", "posted")),
    "DOTSYNC_STRICT_FIELDS": ("mobile_number", "strict_fields", frozenset({"mobile_number"})),
    "DOTSYNC_CONFIRMATION_MAX_AGE": ("1d12h", "confirmation_max_age", timedelta(hours=36)),
    "DOTSYNC_NO_CONFIRMATION_STATUSES": ("Fraud", "no_confirmation_statuses", ("fraud",)),
    "DOTSYNC_MAX_SENDS_PER_RUN": ("0", "max_sends_per_run", 0),
    "DOTSYNC_ATTEMPT_RETENTION_DAYS": ("30", "attempt_retention_days", 30),
    "DOTSYNC_CREDENTIALS_BLOCK": ("acme-api", "credentials_block", "acme-api"),
    "DOTSYNC_SINGLE_HOST": ("on", "single_host", True),
    "DOTSYNC_CART_PROGRAM_ID": ("5", "cart_program_id", 5),
    "DOTSYNC_CART_IDLE_MINUTES": ("30", "cart_idle_minutes", 30),
    "DOTSYNC_CART_REENROL_HOURS": ("0", "cart_reenrol_hours", 0),
    "DOTSYNC_CATALOG_COLLECTION": (" catalog_all ", "catalog_collection", "catalog_all"),
    "DOTSYNC_PROGRAMS": ("refunded=7", "programs", (("refunded", 7),)),
}

#: A malformed value for every variable that has a rule.
BAD = {
    "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "abc",
    "DOTSYNC_ADDRESS_BOOK_ID": "1.5",
    "DOTSYNC_CALLS_PER_MINUTE": "sixty",
    "DOTSYNC_CONTACT_BULK_THRESHOLD": "many",
    "DOTSYNC_PROPAGATE_DELETES": "maybe",
    "DOTSYNC_STRICT_FIELDS": "mobile",
    "DOTSYNC_CONFIRMATION_MAX_AGE": "3w",
    "DOTSYNC_MAX_SENDS_PER_RUN": "-5",
    "DOTSYNC_ATTEMPT_RETENTION_DAYS": "ninety",
    "DOTSYNC_SINGLE_HOST": "2",
    "DOTSYNC_CART_PROGRAM_ID": "0",
    "DOTSYNC_CART_IDLE_MINUTES": "0",
    "DOTSYNC_CART_REENROL_HOURS": "-1",
    "DOTSYNC_PROGRAMS": "first_order=x",
}


def _toml(path: Path, values: dict[str, str], account: str | None = None) -> Path:
    lines = [f"[accounts.{account}]", 'dotsync_database_url = "sqlite:///acct.db"'] \
        if account else []
    lines += [f"{name.lower()} = {_quoted(value)}" for name, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("name", sorted(GOOD))
def test_every_variable_is_read_by_its_spec_name_from_the_environment_and_the_file(
        name: str, tmp_path: Path) -> None:
    text, field, expected = GOOD[name]
    assert getattr(Settings.from_env({name: text}, NO_FILE), field) == expected
    toml = _toml(tmp_path / "dotsync.toml", {name: text})
    assert getattr(Settings.from_env({}, toml), field) == expected
    default = getattr(Settings(), field)
    assert default != expected  # the variable changed something
    # The environment wins over the file's top level; an empty variable is an unset one.
    assert getattr(Settings.from_env({name: ""}, toml), field) == expected
    assert getattr(Settings.from_env({name: ""}, NO_FILE), field) == default
    # Other spellings are not the variable (names are SPEC §3's, exactly).
    assert getattr(Settings.from_env({name.lower(): text, field: text}, NO_FILE),
                   field) == default


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_refused_naming_its_variable(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: BAD[name]}, NO_FILE)
    toml = _toml(tmp_path / "dotsync.toml", {name: BAD[name]})
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({}, toml)


def test_every_bad_variable_is_named_in_one_message() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(dict(BAD), NO_FILE)
    for name in BAD:
        assert name in str(caught.value)


def test_toml_values_of_other_types_read_as_their_text(tmp_path: Path) -> None:
    toml = tmp_path / "dotsync.toml"
    toml.write_text("dotsync_calls_per_minute = 60\ndotsync_single_host = true\n"
                    'dotsync_preflight_accept = ["region", "list"]\n'
                    "dotsync_insight_collection = {a = 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="DOTSYNC_INSIGHT_COLLECTION"):
        Settings.from_env({}, toml)
    toml.write_text(toml.read_text().replace("dotsync_insight_collection = {a = 1}\n", ""))
    s = Settings.from_env({}, toml)
    assert (s.calls_per_minute, s.single_host, s.preflight_accept) == (
        60, True, ("region", "list"))


def test_settings_built_directly_read_nothing_from_the_process(monkeypatch) -> None:
    monkeypatch.setenv("DOTSYNC_INSIGHT_COLLECTION", "FromTheProcess")
    monkeypatch.setenv("DOTSYNC_CONFIG", NO_FILE)
    assert Settings().insight_collection == "Purchases"
    assert Settings(insight_collection="Given").insight_collection == "Given"
    assert Settings.from_env().insight_collection == "FromTheProcess"


def test_one_secret_type_the_same_as_the_credentials_block() -> None:
    from dotsync.flows.blocks import DotdigitalCredentials

    s = Settings.from_env({"DOTDIGITAL_API_PASSWORD": "pw-one-type"}, NO_FILE)
    block_type = DotdigitalCredentials.model_fields["api_password"].annotation
    assert Secret is SecretStr is block_type
    assert type(s.api_password) is SecretStr
    assert s.api_password.get_secret_value() == "pw-one-type"
    assert "pw-one-type" not in repr(s) + str(s) + str(s.describe())
    applied = DotdigitalCredentials(api_user="u", api_password="pw-block").apply(s)
    assert type(applied.api_password) is SecretStr
    assert applied.api_password.get_secret_value() == "pw-block"


passwords = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                    min_size=8, max_size=40).filter(lambda p: p.strip() == p)


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords, bad=st.lists(st.sampled_from(sorted(BAD)), min_size=1,
                                        max_size=4, unique=True),
       in_file=st.booleans())
def test_no_settings_error_shows_the_password(tmp_path: Path, password: str,
                                               bad: list[str], in_file: bool) -> None:
    """Whatever the password and whichever settings are wrong, the error is the same
    as with no password at all, and never contains it (nor does its hidden context)."""
    values = {name: BAD[name] for name in bad}

    def error(with_password: str | None) -> ConfigError:
        given = dict(values)
        if with_password is not None:
            given["DOTDIGITAL_API_PASSWORD"] = with_password
        toml = tmp_path / "dotsync.toml"
        if in_file:
            _toml(toml, given, account="acme")
            env: dict[str, str] = {}
        else:
            toml.unlink(missing_ok=True)
            env = given
        with pytest.raises(ConfigError) as caught:
            Settings.from_env(env, toml, account="acme" if in_file else None)
        return caught.value

    with_it, without = error(password), error(None)
    assert str(with_it) == str(without)
    for name in bad:
        assert name in str(with_it)
    if password not in str(without):
        shown = str(with_it) + repr(with_it) + str(with_it.__context__)
        assert password not in shown


def test_a_password_of_the_wrong_shape_is_named_not_shown(tmp_path: Path) -> None:
    toml = tmp_path / "dotsync.toml"
    toml.write_text('[dotdigital_api_password]\nvalue = "pw-in-a-table"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="DOTDIGITAL_API_PASSWORD") as caught:
        Settings.from_env({}, toml)
    assert "pw-in-a-table" not in str(caught.value) + str(caught.value.__context__)
    toml.write_text('dotdigital_api_password = "pw-unterminated\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        Settings.from_env({}, toml)
    assert "pw-unterminated" not in str(caught.value)
