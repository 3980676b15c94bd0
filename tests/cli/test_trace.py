"""``dotsync trace``: one record's story, on SQLite and PostgreSQL, after real runs
against the bundled emulator (no Prefect: the engine runs in this process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.dotdigital import errors as dd
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.store import attempts as attempt_log
from dotsync.sync.engine import SyncEngine
from dotsync.sync.run import run_sync
from dotsync.trace import RecordNotFound, as_text, run_url, trace
from tests.e2e.helpers import certificate, customer, order, stage
from tests.reliability.harness import make_client, settings_for, sync_options


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.01, random_seed=1)) as server:
        yield server


def _sync(store: Store, settings: Any, *, in_doubt: bool = False) -> None:
    with make_client(settings) as client:
        if in_doubt:  # the connection drops after the send was written
            def lost(*_a: Any, **_k: Any) -> None:
                raise dd.SendOutcomeUnknown("the connection dropped after the request",
                                            operation="send_triggered_campaign")
            client.send_triggered_campaign = lost  # type: ignore[method-assign]
            client.send_triggered_campaign_batch = lost  # type: ignore[method-assign]
        run_sync(SyncEngine(store, settings, client, options=sync_options()))


@pytest.fixture
def shop(store: Store, emulator: EmulatorServer) -> dict[str, Any]:
    """A shop after two runs: a synced customer, order and certificate; a customer the
    contract rejects (then replayed); an order waiting for its rejected customer's
    contact; a certificate whose send was lost (in doubt)."""
    settings = settings_for(emulator, store.url)
    stage(store, "customers", [
        customer(1, email="Jo.Brown@Example.com", mobile_number="07700 900123"),
        customer(2, email="not-an-email"),
        customer(3, email="wait@example.com", updated_at="not a timestamp"),
    ])
    stage(store, "orders", [order(1, "jo.brown@example.com"),
                            order(3, "wait@example.com")])
    stage(store, "certificates", [certificate(1, "jo.brown@example.com")])
    _sync(store, settings)
    Ledger(store).replay("customers", ["C2"])
    stage(store, "certificates", [certificate(2, "jo.brown@example.com")])
    _sync(store, settings, in_doubt=True)
    return {"settings": settings, "emulator": emulator}


def test_a_synced_order_tells_its_attempt_its_contact_and_its_state(store, shop):
    story = trace(store, shop["settings"], "orders", "O1")
    assert story["state"] == "synced" and story["waits_for"] is None
    assert story["contract"]["result"] == "valid"
    assert [(a["operation"], a["outcome"]) for a in story["attempts"]] == [
        (attempt_log.INSIGHT_PUT, "synced")]
    assert story["attempts"][0]["run_id"] == story["ledger"]["run_id"]
    assert story["contact"]["ledger"]["state"] == "synced"
    # Personal data masked unless asked for.
    assert story["staged"]["customer_email"] == "j***@example.com"
    assert story["contact"]["email"] == "j***@example.com"
    assert "jo.brown" not in json.dumps(story, default=str)
    shown = trace(store, shop["settings"], "orders", "O1", show_personal=True)
    assert shown["staged"]["customer_email"] == "jo.brown@example.com"


def test_a_synced_customer_tells_its_contact_push(store, shop):
    story = trace(store, shop["settings"], "customers", "C1")
    assert story["state"] == "synced"
    assert [a["operation"] for a in story["attempts"]] == [attempt_log.CONTACT_UPSERT]
    assert story["staged"]["mobile_number"] == "***123"
    assert story["staged"]["first_name"] == "F***"


def test_a_rejected_then_replayed_customer_tells_both(store, shop):
    story = trace(store, shop["settings"], "customers", "C2")
    assert story["contract"]["result"] == "rejected"
    assert story["contract"]["rejects"][0]["field"] == "email"
    # Replayed, then the next run rejected it again on the same contract.
    assert [(a["operation"], a["outcome"], a["error_code"]) for a in story["attempts"]] == [
        (attempt_log.REPLAY, "pending", "rejected")]
    assert story["state"] == "rejected"
    assert story["ledger"]["error_field"] == "email"


def test_a_waiting_order_says_what_it_waits_for(store, shop):
    story = trace(store, shop["settings"], "orders", "O3")
    assert story["state"] == "waiting"
    assert "w***@example.com" in story["waits_for"]
    assert "rejected" in story["waits_for"]
    assert story["attempts"] == []  # nothing was sent for it
    assert "waiting for" in as_text(story)


def test_an_in_doubt_certificate_shows_the_claim_and_the_lost_answer(store, shop):
    story = trace(store, shop["settings"], "certificates", "G2")
    assert story["state"] == "in_doubt"
    assert "resend" in story["waits_for"]
    assert [(a["operation"], a["outcome"]) for a in story["attempts"]] == [
        (attempt_log.CAMPAIGN_CLAIM, "in_doubt"), (attempt_log.CAMPAIGN_SEND, "in_doubt")]
    assert story["attempts"][1]["error_code"] == "SendOutcomeUnknown"
    assert story["attempts"][1]["reference"] == "campaign 1001"
    assert story["staged"]["code"] == "C***"  # the gift code is as good as money
    sent = trace(store, shop["settings"], "certificates", "G1")
    assert sent["state"] == "synced"
    assert [a["outcome"] for a in sent["attempts"]] == ["in_doubt", "synced"]


def test_an_unknown_record_is_not_found(store, shop):
    with pytest.raises(RecordNotFound):
        trace(store, shop["settings"], "orders", "nope")


def test_remote_reads_what_dotdigital_holds(store, shop):
    settings = shop["settings"]
    with make_client(settings) as client:
        order_story = trace(store, settings, "orders", "O1", client=client)
        cert_story = trace(store, settings, "certificates", "G1", client=client)
        waiting = trace(store, settings, "orders", "O3", client=client)
    remote = order_story["remote"]
    assert remote["contact"]["found"] is True
    assert remote["contact"]["email"] == "j***@example.com"
    assert remote["insight_record"]["found"] is True
    assert remote["insight_record"]["json"]["id"] == "O1"
    assert cert_story["remote"]["campaign"]["id"] == 1001
    assert "send_history" in cert_story["remote"]
    assert waiting["remote"]["contact"] == {"found": False}
    # Deleted in Dotdigital since: the trace says so.
    shop["emulator"].state.delete_contact("email", "jo.brown@example.com")
    with make_client(settings) as client:
        gone = trace(store, settings, "orders", "O1", client=client)
    assert gone["remote"]["contact"] == {"found": False}


def test_the_command_prints_the_story_and_exits_by_spec(store, shop, monkeypatch, tmp_path):
    if store.dialect != "sqlite":
        pytest.skip("the command is the same on both; the store functions are tested above")
    monkeypatch.chdir(tmp_path)
    for key, value in {"DOTSYNC_DATABASE_URL": store.url,
                       "DOTDIGITAL_API_ENDPOINT": shop["emulator"].url,
                       "DOTDIGITAL_API_USER": shop["emulator"].config.user,
                       "DOTDIGITAL_API_PASSWORD": shop["emulator"].config.password,
                       "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
                       "PREFECT_UI_URL": "http://127.0.0.1:4200"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    result = runner.invoke(main, ["trace", "orders", "O1", "--json", "--remote"])
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)
    assert story["found"] is True and story["state"] == "synced"
    assert story["attempts"][0]["run_url"] == (
        f"http://127.0.0.1:4200/runs/flow-run/{story['attempts'][0]['run_id']}")
    assert story["remote"]["insight_record"]["found"] is True
    text = runner.invoke(main, ["trace", "certificates", "G2"])
    assert text.exit_code == 0 and "in_doubt" in text.output and "send claimed" in text.output
    missing = runner.invoke(main, ["trace", "orders", "nope"])
    assert missing.exit_code == 1 and "no orders record 'nope'" in missing.output
    assert "Usage:" not in missing.output
    bad = runner.invoke(main, ["trace", "parcels", "X"])
    assert bad.exit_code == 2  # a usage error: click's own message


def test_run_url_follows_the_ui_or_the_api_address(monkeypatch):
    monkeypatch.delenv("PREFECT_UI_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert run_url("abc") is None
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert run_url("abc") == "http://127.0.0.1:4200/runs/flow-run/abc"
    monkeypatch.setenv("PREFECT_UI_URL", "https://prefect.example.com/")
    assert run_url("abc") == "https://prefect.example.com/runs/flow-run/abc"
    assert run_url(None) is None
