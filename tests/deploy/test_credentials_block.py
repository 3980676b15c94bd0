"""The DotdigitalCredentials block: registered with ``prefect block register``, saved
and loaded through a real Prefect server, applied to the settings, never shown."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest
from dotsync.deployments.credentials import DotdigitalCredentials
from pydantic import SecretStr

from dotsync.config import Settings
from tests.deploy.conftest import PrefectServer, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def password() -> str:
    return f"pw-{secrets.token_hex(12)}"


def test_register_save_load_round_trip(prefect_server: PrefectServer, password: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    registered = run_cli(
        prefect_server, "block", "register", "-m", "dotsync.deployments.credentials"
    )
    assert "Dotdigital Credentials" in registered.stdout
    block_type = httpx.get(
        f"{prefect_server.api_url}/block_types/slug/dotdigital-credentials", timeout=10).json()
    assert block_type["name"] == "Dotdigital Credentials"

    caplog.set_level(logging.DEBUG)
    DotdigitalCredentials(api_user="api-user@apiconnector.com", api_password=password,
                          api_endpoint="https://r2-api.dotdigital.com").save(
        "round-trip", overwrite=True)
    loaded = DotdigitalCredentials.load("round-trip")

    assert loaded.api_user == "api-user@apiconnector.com"
    assert loaded.api_password.get_secret_value() == password
    assert loaded.api_endpoint == "https://r2-api.dotdigital.com"
    schema = httpx.post(f"{prefect_server.api_url}/block_schemas/filter", json={
        "block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}}, timeout=10).json()
    assert schema[0]["fields"]["secret_fields"] == ["api_password"]
    document = httpx.get(f"{prefect_server.api_url}/block_types/slug/dotdigital-credentials/"
                         "block_documents/name/round-trip", timeout=10).json()
    assert password not in str(document)
    assert password not in caplog.text
    assert password not in repr(loaded) and password not in str(loaded)
    assert password not in loaded.model_dump_json()


def test_apply_puts_the_credentials_into_the_settings(password: str) -> None:
    env = Settings(api_user="env-user", api_password=SecretStr("env-password"),
                   api_endpoint="https://r1-api.dotdigital.com", default_region="GB")
    block = DotdigitalCredentials(api_user="block-user", api_password=SecretStr(password))

    applied = block.apply(env)

    assert applied.api_user == "block-user"
    assert applied.api_password.get_secret_value() == password
    assert applied.api_endpoint == "https://r1-api.dotdigital.com"  # the block names none
    assert applied.default_region == "GB"  # everything else untouched
    assert password not in repr(applied) and password not in str(applied.describe())
    regional = DotdigitalCredentials(api_user="u", api_password=SecretStr(password),
                                     api_endpoint="https://r3-api.dotdigital.com")
    assert regional.apply(env).api_endpoint == "https://r3-api.dotdigital.com"


def test_flows_take_the_block_named_else_the_environment(
    prefect_server: PrefectServer, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dotsync.flows.common import load_settings

    DotdigitalCredentials(api_user="from-block", api_password=SecretStr(password)).save(
        "flows-block", overwrite=True)
    monkeypatch.setenv("DOTDIGITAL_API_USER", "from-env")
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", "env-password")
    monkeypatch.delenv("DOTSYNC_CREDENTIALS_BLOCK", raising=False)

    assert load_settings().api_user == "from-env"
    assert load_settings("flows-block").api_password.get_secret_value() == password
    monkeypatch.setenv("DOTSYNC_CREDENTIALS_BLOCK", "flows-block")
    assert load_settings().api_user == "from-block"
