"""``dotsync preflight [--json]``: output, JSON shape, exit codes, and no password anywhere."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from dotsync.emulator import DEFAULT_USER
from dotsync.preflight import CHECK_NAMES
from dotsync.preflight_cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, preflight_command
from dotsync.store import Store
from tests.preflight.support import SECRET_PASSWORD, WRONG_PASSWORD, certificates, stage

SETTINGS = ("DOTDIGITAL_API_USER", "DOTDIGITAL_API_PASSWORD", "DOTDIGITAL_API_ENDPOINT",
            "DOTSYNC_DATABASE_URL", "DOTSYNC_DEFAULT_REGION", "DOTSYNC_INSIGHT_COLLECTION",
            "DOTSYNC_ORDER_CAMPAIGN", "DOTSYNC_CERTIFICATE_CAMPAIGN_ID",
            "DOTSYNC_ADDRESS_BOOK_ID", "DOTSYNC_CALLS_PER_MINUTE", "DOTSYNC_PREFLIGHT_ACCEPT")


@pytest.fixture
def env(tmp_path, monkeypatch, emulator):
    """A working configuration against an emulator; tests change one thing each."""
    monkeypatch.chdir(tmp_path)  # no dotsync.toml from elsewhere
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    server = emulator()
    values = {
        "DOTDIGITAL_API_USER": DEFAULT_USER,
        "DOTDIGITAL_API_PASSWORD": SECRET_PASSWORD,
        "DOTDIGITAL_API_ENDPOINT": server.url,
        "DOTSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        "DOTSYNC_ORDER_CAMPAIGN": "Order confirmation",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def invoke(*args: str) -> Result:
    return CliRunner().invoke(preflight_command, list(args))


def everything(result: Result) -> str:
    """stdout and stderr together."""
    return result.stdout + "\n" + result.stderr


def test_a_ready_setup_exits_0_with_a_checklist(env):
    result = invoke()
    assert result.exit_code == EXIT_OK == 0, result.output
    for name in CHECK_NAMES:
        assert f"✔ {name}" in result.output
    assert "ready to go live" in result.output


def test_json_is_one_object_with_ok_and_checks(env):
    result = invoke("--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert [c["name"] for c in payload["checks"]] == list(CHECK_NAMES)
    for check in payload["checks"]:
        assert set(check) == {"name", "ok", "status", "severity", "detail", "fix"}
        assert check["status"] == "pass"
    assert payload["summary"]["pass"] == len(CHECK_NAMES)


def test_a_failed_check_exits_1(env, monkeypatch):
    monkeypatch.setenv("DOTSYNC_CERTIFICATE_CAMPAIGN_ID", "1004")  # Paused
    result = invoke()
    assert result.exit_code == EXIT_FAILED == 1
    assert "✘ certificate_campaign" in result.output and "Paused" in result.output
    assert "→ " in result.output  # what to do
    payload = json.loads(invoke("--json").stdout)
    assert payload["ok"] is False
    failing = {c["name"]: c for c in payload["checks"] if not c["ok"]}
    assert set(failing) == {"certificate_campaign"}
    assert failing["certificate_campaign"]["status"] == "fail"


def test_warnings_alone_exit_0(env):
    store = Store(env["DOTSYNC_DATABASE_URL"])
    stage(store, "certificates", certificates(3, link=lambda i: f"https://shop.example.com/{i}"))
    store.dispose()
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "⚠ certificate_links" in result.output


@pytest.mark.parametrize(("change", "named"), [
    ({"DOTDIGITAL_API_USER": None}, "DOTDIGITAL_API_USER"),
    ({"DOTDIGITAL_API_PASSWORD": None}, "DOTDIGITAL_API_PASSWORD"),
    ({"DOTDIGITAL_API_ENDPOINT": "https://r1-api.dotdigital.com.evil.example"},
     "DOTDIGITAL_API_ENDPOINT"),
    ({"DOTDIGITAL_API_ENDPOINT": "not a url"}, "DOTDIGITAL_API_ENDPOINT"),
    ({"DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "gift"}, "DOTSYNC_CERTIFICATE_CAMPAIGN_ID"),
    ({"DOTSYNC_DATABASE_URL": "nosuchdb://x"}, "DOTSYNC_DATABASE_URL"),
    ({"DOTSYNC_PREFLIGHT_ACCEPT": "order_currencys"}, "DOTSYNC_PREFLIGHT_ACCEPT"),
])
def test_configuration_errors_exit_2_naming_the_setting(env, monkeypatch, change, named):
    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    result = invoke()
    assert result.exit_code == EXIT_CONFIG == 2
    assert named in everything(result)
    assert "✔" not in result.output  # no checklist: the checks did not run
    as_json = invoke("--json")
    assert as_json.exit_code == 2
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is False and named in payload["error"]


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_the_password_never_appears_even_when_refused(env, monkeypatch, flag):
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", WRONG_PASSWORD)
    result = invoke(*flag)
    assert result.exit_code == 1
    out = everything(result)
    assert "401" in out  # the refusal is reported…
    assert WRONG_PASSWORD not in out and SECRET_PASSWORD not in out  # …without the password


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_the_password_never_appears_when_everything_passes(env, flag):
    result = invoke(*flag)
    assert result.exit_code == 0
    assert SECRET_PASSWORD not in everything(result)


def test_unreachable_dotdigital_exits_1_not_a_crash(env, monkeypatch, emulator):
    dead = emulator()
    url = dead.url
    dead.stop()
    monkeypatch.setenv("DOTDIGITAL_API_ENDPOINT", url)
    result = invoke("--json")
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    statuses = {c["name"]: c["status"] for c in payload["checks"]}
    assert statuses["region"] == "fail" and statuses["credentials"] == "skipped"


def test_an_accepted_warning_exits_0_and_shows_as_accepted(env, monkeypatch):
    store = Store(env["DOTSYNC_DATABASE_URL"])
    stage(store, "certificates", certificates(3, link=lambda i: f"https://shop.example.com/{i}"))
    store.dispose()
    monkeypatch.setenv("DOTSYNC_PREFLIGHT_ACCEPT", "certificate_links, order_currencies")
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "≈ certificate_links" in result.output and "accepted" in result.output
    payload = json.loads(invoke("--json").stdout)
    links = next(c for c in payload["checks"] if c["name"] == "certificate_links")
    assert links["status"] == "accepted" and payload["summary"]["accepted"] == 1


def test_accepted_warnings_can_be_a_toml_array(tmp_path):
    from dotsync.config import Settings

    (tmp_path / "dotsync.toml").write_text(
        'dotsync_preflight_accept = ["order_currencies", "certificate_links"]\n',
        encoding="utf-8")
    settings = Settings.from_env({}, toml_path=tmp_path / "dotsync.toml")
    assert settings.preflight_accept == ("order_currencies", "certificate_links")
    assert Settings.from_env({"DOTSYNC_PREFLIGHT_ACCEPT": " region ,, order_currencies"},
                             toml_path=tmp_path / "none.toml").preflight_accept == (
        "region", "order_currencies")


def test_changed_only_checks_what_the_next_sync_reads(env):
    from dotsync.store import schema
    from dotsync.store.changes import ChangeFeed

    store = Store(env["DOTSYNC_DATABASE_URL"])
    try:
        rows = certificates(3, campaign_id="1001")
        rows[0]["link"] = "http://shop.northwind.co.uk/gift/GC-0000"
        stage(store, "certificates", rows)
        feed = ChangeFeed(store.engine)
        for entity in schema.ENTITIES:  # as a finished sync leaves it
            feed.close(feed.open(entity), processed=True)
    finally:
        store.dispose()
    assert invoke().exit_code == EXIT_FAILED
    result = invoke("--changed-only")
    assert result.exit_code == EXIT_OK, result.output
    assert "only records changed since the last sync" in result.output
