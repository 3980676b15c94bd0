"""The sync flow end to end: Prefect + the bundled emulator + a fresh staging store."""

from __future__ import annotations

import pytest

from dotsync.store import Ledger
from dotsync.store import warnings as field_warnings
from tests.e2e.helpers import (
    certificate,
    customer,
    order,
    sends_by_code,
    stage,
    states,
    write_calls,
)

pytestmark = pytest.mark.e2e


def test_contacts_fields_and_e164_numbers_reach_dotdigital(env):
    # the shop created the data fields it uses (preflight's data_fields check asks for them)
    for name in ("STORE", "LOCALE", "LOYALTY_TIER"):
        env.emulator.state.add_data_field(name)
    stage(env.store, "customers", [
        customer(1, mobile_number="07911 123456", email_type="plaintext",
                 opt_in_type="double", store="uk-web", locale="en_GB",
                 data_fields={"LOYALTY_TIER": "gold"}),
        customer(2, mobile_number="(415) 555-2671", country="US", email_consent=None),
    ])
    state = env.sync()
    assert state.is_completed(), state.message
    one = env.emulator.state.contact("customer1@example.com")
    assert one["identifiers"]["mobileNumber"] == "447911123456"
    assert one["dataFields"]["FIRSTNAME"] == "First1"
    assert one["dataFields"]["LASTNAME"] == "Last1"
    assert one["dataFields"]["STORE"] == "uk-web"
    assert one["dataFields"]["LOCALE"] == "en_GB"
    assert one["dataFields"]["LOYALTY_TIER"] == "gold"
    assert one["channelProperties"]["email"]["emailType"] == "PlainText"
    assert one["channelProperties"]["email"]["optInType"] == "Double"
    two = env.emulator.state.contact("customer2@example.com")
    assert two["identifiers"]["mobileNumber"] == "14155552671"
    assert states(env.store, "customers") == {"C1": "synced", "C2": "synced"}


def test_no_email_status_is_sent_without_consent(env):
    env.emulator.state.add_suppression("quiet@example.com", "Unsubscribed")
    stage(env.store, "customers", [customer(1, email="Quiet@Example.com", email_consent=None)])
    assert env.sync().is_completed()
    contact = env.emulator.state.contact("quiet@example.com")
    assert contact["channelProperties"]["email"]["status"] != "subscribed"


def test_guest_emails_become_contacts_before_their_orders(env):
    stage(env.store, "orders", [order(1, "Guest@Example.org"), order(2, "guest@example.org")])
    assert env.sync().is_completed()
    assert env.emulator.state.contact("guest@example.org") is not None
    records = env.emulator.state.insight_records("Purchases")
    assert sorted(r["key"] for r in records) == ["O1", "O2"]
    calls = env.emulator.state.calls()
    # A guest is created with POST /contacts/v3 (create only: README, "Consent").
    contact_seq = min(c["seq"] for c in calls if c["path"].startswith("/contacts/v3")
                      and c["method"] in {"PATCH", "PUT", "POST"})
    insight_seq = min(c["seq"] for c in calls if c["path"].startswith("/insightData/"))
    assert contact_seq < insight_seq


def test_mixed_case_duplicate_emails_are_one_contact_with_the_newest_fields(env):
    stage(env.store, "customers", [
        customer(1, email="Jo@Example.com", first_name="Old",
                 updated_at="2026-01-01T00:00:00Z"),
        customer(2, email=" jo@example.COM ", first_name="New",
                 updated_at="2026-06-01T00:00:00Z"),
    ])
    state = env.sync(bulk_threshold=0)  # through a bulk import this time
    assert state.is_completed()
    matching = [c for c in env.emulator.state.contacts()
                if c["identifiers"].get("email") == "jo@example.com"]
    assert len(matching) == 1
    assert matching[0]["dataFields"]["FIRSTNAME"] == "New"
    assert states(env.store, "customers") == {"C1": "synced", "C2": "synced"}
    report = state.result()
    assert report["contacts"]["merged"] == 1


def test_orders_wait_for_a_rejected_contact_and_go_out_once_it_is_fixed(env):
    # A required field (SPEC §1: a bad mobile number is only a warning now).
    stage(env.store, "customers", [customer(1, updated_at="last tuesday")])
    stage(env.store, "orders", [order(1, "customer1@example.com")])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    first = env.sync()
    assert first.is_completed()
    report = first.result()
    assert report["orders"]["skipped"] == 1 and report["certificates"]["skipped"] == 1
    waiting = [p for p in report["problems"] if p["key"] == "O1"]
    assert "contact c***@example.com rejected" in waiting[0]["reason"]
    assert "'last tuesday'" in waiting[0]["reason"]
    assert env.emulator.state.insight_records("Purchases") == []
    assert env.emulator.state.sends() == []
    rows = Ledger(env.store).frame("orders").set_index("key")
    assert rows.loc["O1", "state"] == "pending"

    stage(env.store, "customers", [customer(1, updated_at="2026-10-05T00:00:00Z")])
    second = env.sync()
    assert second.is_completed()
    assert [r["key"] for r in env.emulator.state.insight_records("Purchases")] == ["O1"]
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}
    assert states(env.store, "orders") == {"O1": "synced"}


def test_a_second_run_with_nothing_changed_makes_zero_write_calls(env):
    stage(env.store, "customers", [customer(i) for i in range(5)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in range(5)])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    assert env.sync().is_completed()
    before = len(env.emulator.state.calls())
    again = env.sync()
    assert again.is_completed()
    new_calls = env.emulator.state.calls()[before:]
    assert write_calls(new_calls) == []
    assert again.result()["write_calls"] == 0

    # A changed order is sent again under the same key; the certificate never is.
    stage(env.store, "orders", [order(1, "customer1@example.com", status="dispatched",
                                      updated_at="2026-10-04T00:00:00Z")])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com", amount="50")])
    third = env.sync()
    assert third.result()["orders"]["sent"] == 1
    record = [r for r in env.emulator.state.insight_records("Purchases") if r["key"] == "O1"]
    assert record[0]["json"]["order_status"] == "dispatched"
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}


def test_certificates_are_sent_once_across_reruns_and_flow_retries(env, monkeypatch):
    stage(env.store, "certificates", [certificate(i, f"r{i}@example.com") for i in range(3)])
    from dotsync.flows import common
    from dotsync.flows import sync as sync_module

    calls = {"n": 0}
    real = common.publish_report

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the process hiccuped after the sends")
        return real(*args, **kwargs)

    monkeypatch.setattr(common, "publish_report", flaky)
    state = sync_module.sync.with_options(retries=1, retry_delay_seconds=0)(
        poll_interval=0.02, return_state=True)
    assert state.is_completed()
    assert calls["n"] >= 2  # the flow really was retried
    assert sends_by_code(env.emulator.state.sends()) == {"CODE0": 1, "CODE1": 1, "CODE2": 1}
    assert env.sync().is_completed()
    assert sends_by_code(env.emulator.state.sends()) == {"CODE0": 1, "CODE1": 1, "CODE2": 1}


def test_a_send_whose_answer_is_lost_stays_in_doubt_until_resent_deliberately(env):
    from click.testing import CliRunner
    from dotsync.deployments.cli import main

    stage(env.store, "certificates", [certificate(1, "r1@example.com")])
    env.emulator.state.faults.script.append(
        {"kind": "drop_after", "path": "/v2/email/triggered-campaign", "method": "POST"})
    state = env.sync()
    assert state.is_completed()
    report = state.result()
    assert report["certificates"]["in_doubt"] == 1
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}  # it did go out
    assert states(env.store, "certificates") == {"G1": "in_doubt"}

    assert env.sync().is_completed()  # never re-sent automatically
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}

    runner = CliRunner()
    status = runner.invoke(main, ["status", "--json"])
    assert '"key": "G1"' in status.output
    rejects = runner.invoke(main, ["rejects", "--entity", "certificates"])
    assert "G1" in rejects.output and "in_doubt" in rejects.output
    resent = runner.invoke(main, ["resend", "certificate", "G1"])
    assert resent.exit_code == 0, resent.output
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 2}
    assert states(env.store, "certificates") == {"G1": "synced"}


def test_injected_5xx_429_and_dropped_connections_still_converge(env):
    stage(env.store, "customers", [customer(i) for i in range(30)])
    stage(env.store, "orders", [order(i, f"customer{i % 30}@example.com") for i in range(60)])
    stage(env.store, "certificates", [certificate(i, f"customer{i}@example.com")
                                      for i in range(10)])
    env.emulator.state.set_faults(error_rate=0.2, drop_rate=0.05, random_seed=11)
    for _ in range(8):
        state = env.sync(bulk_threshold=10, send_batch_size=3)
        assert state.is_completed(), state.message
        left = [s for s in Ledger(env.store).states("orders").values() if s != "synced"]
        if not left and len(states(env.store, "customers")) == 30:
            break
    env.emulator.state.set_faults(error_rate=0.0, drop_rate=0.0)
    env.sync()
    assert set(states(env.store, "customers").values()) == {"synced"}
    assert set(states(env.store, "orders").values()) == {"synced"}
    cert_states = states(env.store, "certificates")
    assert set(cert_states.values()) <= {"synced", "in_doubt"}
    sent = sends_by_code(env.emulator.state.sends())
    assert all(n == 1 for n in sent.values())  # never twice
    assert len(env.emulator.state.insight_records("Purchases")) == 60


def test_rate_limits_are_waited_out(env, monkeypatch):
    from dotsync.emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(rate_limit_per_minute=4, rate_limit_window=1.0, import_delay=0.01)
    with EmulatorServer(config) as limited:
        monkeypatch.setenv("DOTDIGITAL_API_ENDPOINT", limited.url)
        stage(env.store, "customers", [customer(i) for i in range(8)])
        state = env.sync()
        assert state.is_completed(), state.message
        assert set(states(env.store, "customers").values()) == {"synced"}
        # The client paces itself from the X-RateLimit headers instead of bouncing off 429s.
        assert sum(c["status"] == 429 for c in limited.state.calls()) <= 1
        report = state.result()
        assert report["rate_limit_wait_seconds"] > 0


def test_bad_credentials_fail_the_run_and_change_nothing(env, monkeypatch):
    stage(env.store, "customers", [customer(1)])
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", "wrong-password-1234")
    state = env.sync()
    assert state.is_failed()
    assert "credentials" in state.message
    assert "wrong-password-1234" not in state.message
    assert Ledger(env.store).frame("customers").empty
    assert env.emulator.state.contacts() == []


def test_dry_run_sends_nothing_and_writes_nothing(env):
    stage(env.store, "customers", [customer(1), customer(2, mobile_number="12"),
                                   customer(3, updated_at="yesterday")])
    stage(env.store, "orders", [order(1, "customer1@example.com")])
    state = env.sync(dry_run=True)
    assert state.is_completed()
    report = state.result()
    assert report["dry_run"] is True
    assert report["contacts"]["sent"] == 2 and report["contacts"]["rejected"] == 1
    assert report["warnings_total"] == 1 and report["contacts"]["warned"] == 1
    assert field_warnings.frame(env.store).empty
    assert env.emulator.state.calls() == []
    assert Ledger(env.store).frame("customers").empty
