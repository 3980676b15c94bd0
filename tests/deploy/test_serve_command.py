"""``dotsync serve``'s options and the deployments it builds (no process started)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from dotsync.deployments.serve import build_deployments, serve_command

from tests.deploy.conftest import PrefectServer

pytestmark = pytest.mark.e2e

#: What the scheduled sync deployment runs: everything but the catalogue's products.
SYNCED = ["contacts", "orders", "certificates"]


def _params(args: list[str]) -> dict:
    return serve_command.make_context("serve", args).params


def test_interval_defaults_to_15_minutes_and_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOTSYNC_SYNC_INTERVAL_MINUTES", raising=False)
    monkeypatch.delenv("DOTSYNC_SYNC_CRON", raising=False)
    assert _params([])["interval_minutes"] == 15.0
    assert _params(["--interval", "5"])["interval_minutes"] == 5.0
    monkeypatch.setenv("DOTSYNC_SYNC_INTERVAL_MINUTES", "60")
    assert _params([])["interval_minutes"] == 60.0
    assert _params(["--interval", "2"])["interval_minutes"] == 2.0  # the option wins
    refused = CliRunner().invoke(serve_command, ["--interval", "0"])
    assert refused.exit_code == 2 and "--interval" in refused.output


def test_the_deployments_built() -> None:
    sync, backfill, replay, consent, reconcile, catalog, carts = build_deployments(
        interval_minutes=5)

    assert [d.name for d in (sync, backfill, replay)] == ["sync", "backfill", "replay"]
    assert [d.flow_name for d in (sync, backfill, replay)] == ["sync", "backfill", "replay"]
    assert [s.schedule.interval for s in sync.schedules] == [timedelta(minutes=5)]
    assert backfill.schedules == [] and replay.schedules == []
    assert consent.name == "consent" and consent.flow_name == "consent"
    assert [s.schedule.interval for s in consent.schedules] == [timedelta(minutes=60)]
    assert reconcile.name == "reconcile" and reconcile.flow_name == "reconcile"
    assert [s.schedule.cron for s in reconcile.schedules] == ["30 3 * * *"]  # daily
    assert reconcile.parameters == {}
    # The catalogue: the sync flow limited to products, hourly; the sync leaves them to it.
    assert catalog.name == "catalog" and catalog.flow_name == "sync"
    assert [s.schedule.interval for s in catalog.schedules] == [timedelta(minutes=60)]
    assert catalog.parameters == {"preflight": True, "entities": ["products"]}
    assert carts.name == "carts" and carts.flow_name == "carts"
    assert [s.schedule.interval for s in carts.schedules] == [timedelta(minutes=5)]
    assert carts.parameters == {"preflight": True}
    assert carts.entrypoint == "dotsync.flows.carts.carts"
    for deployment in (sync, backfill, replay, consent, reconcile, catalog, carts):
        assert deployment.concurrency_limit == 1
        assert deployment.concurrency_options.collision_strategy == "ENQUEUE"
    # Deployed sync and backfill runs pass the go-live checks before any write.
    assert sync.parameters == {"preflight": True, "entities": SYNCED}
    assert backfill.parameters == {"preflight": True}
    assert replay.parameters == consent.parameters == {}
    assert sync.entrypoint == "dotsync.flows.sync.sync"  # found wherever serve was started

    default_sync = build_deployments()[0]
    assert default_sync.schedules[0].schedule.interval == timedelta(minutes=15)
    cron_sync = build_deployments(cron="*/10 * * * *", credentials_block="dd")[0]
    assert cron_sync.schedules[0].schedule.cron == "*/10 * * * *"
    assert cron_sync.parameters == {"credentials_block": "dd", "preflight": True,
                                    "entities": SYNCED}


def test_serve_needs_a_prefect_server() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = CliRunner().invoke(serve_command, [])
    assert result.exit_code == 2
    assert "PREFECT_API_URL" in result.output


def test_serve_refuses_a_block_that_does_not_exist(prefect_server: PrefectServer) -> None:
    result = CliRunner().invoke(serve_command, ["--credentials-block", "no-such-block"])
    assert result.exit_code == 2, result.output
    assert "no DotdigitalCredentials block named 'no-such-block'" in result.output


def test_each_account_gets_its_own_named_tagged_deployments() -> None:
    deployments = build_deployments(interval_minutes=15, account="acme")
    assert [d.name for d in deployments] == [
        "sync-acme", "backfill-acme", "replay-acme", "consent-acme", "reconcile-acme",
        "catalog-acme", "carts-acme"]
    for deployment in deployments:
        assert "account:acme" in deployment.tags and "dotsync" in deployment.tags
        assert deployment.parameters["account"] == "acme"
    assert deployments[0].parameters == {"preflight": True, "account": "acme",
                                         "entities": SYNCED}


def test_serve_checks_the_accounts_it_is_asked_for(prefect_server: PrefectServer, tmp_path,
                                                  monkeypatch) -> None:
    """An account is a table of the local file or a Prefect Variable: one that is
    neither is refused, naming both places."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOTSYNC_CONFIG", raising=False)
    (tmp_path / "dotsync.toml").write_text(
        '[accounts.acme]\ndotsync_database_url = "sqlite:////tmp/acme.db"\n')
    refused = CliRunner().invoke(serve_command, ["--serve-account", "initech"])
    assert refused.exit_code == 2, refused.output
    assert ("no account named 'initech': no [accounts.initech] table in dotsync.toml and "
            "no Prefect Variable 'dotsync-settings-initech'") in refused.output
    (tmp_path / "dotsync.toml").write_text("")
    refused = CliRunner().invoke(serve_command, ["--all-accounts"])
    assert refused.exit_code == 2, refused.output
    assert "neither dotsync.toml ([accounts.NAME] tables) nor the Prefect Variables " \
        "(dotsync-settings-NAME) name an account" in refused.output
