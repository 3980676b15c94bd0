"""Go-live gate, consent read-back, erasure and the order lifecycle, end to end."""

from __future__ import annotations

import pytest

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.store import Ledger
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.run import run_sync
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage, states

pytestmark = pytest.mark.e2e


def plain_run(env, **options):
    """The sync steps without Prefect, with a client whose upserts we can see."""
    settings = Settings.from_env()
    client = DotdigitalClient.from_settings(settings)
    sent: list[dict] = []
    real = client.upsert_contact

    def spy(contact, merge_option="overwrite"):
        sent.append(contact)
        return real(contact, merge_option)

    client.upsert_contact = spy  # type: ignore[method-assign]
    real_create = client.create_contact

    def spy_create(contact):
        sent.append(contact)
        return real_create(contact)

    client.create_contact = spy_create  # type: ignore[method-assign]
    options.setdefault("poll_interval", 0.02)
    engine = SyncEngine(env.store, settings, client, options=Options(**options))
    report = run_sync(engine)
    client.close()
    return report, sent


# -- consent read-back --------------------------------------------------------------


def test_unsubscribed_in_dotdigital_stays_unsubscribed_against_an_older_consent(env):
    env.emulator.state.add_suppression("jo@example.com", "Unsubscribed",
                                       "2026-09-01T00:00:00Z")
    from dotsync.flows.consent import consent

    state = consent(return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["recorded"] >= 1
    stage(env.store, "customers", [customer(1, email="jo@example.com",
                                            email_consent="subscribed",
                                            updated_at="2026-08-01T00:00:00Z")])
    report, sent = plain_run(env)
    (payload,) = sent
    # Never pushed before, so it is created with the non-marketable status (README,
    # "Consent"); what matters here is that "subscribed" is not sent.
    assert payload["channelProperties"]["email"].get("status") in (None, "unsubscribed")
    assert env.emulator.state.contact("jo@example.com")["channelProperties"]["email"][
        "status"] == "unsubscribed"
    assert report.counts["contacts"].kept_unsubscribed == 1
    kept = [p for p in report.problems if p.state == "kept_unsubscribed"]
    assert kept and "suppressed since 2026-09-01" in kept[0].reason


def test_a_newer_source_consent_wins(env):
    env.emulator.state.add_suppression("jo@example.com", "Unsubscribed",
                                       "2026-09-01T00:00:00Z")
    from dotsync.flows.consent import consent

    assert consent(return_state=True).is_completed()
    stage(env.store, "customers", [customer(1, email="jo@example.com",
                                            email_consent="subscribed",
                                            updated_at="2026-10-15T00:00:00Z")])
    report, sent = plain_run(env)
    (payload,) = sent
    assert payload["channelProperties"]["email"]["status"] == "subscribed"
    assert report.counts["contacts"].kept_unsubscribed == 0


def test_consent_read_back_moves_its_watermark(env):
    from dotsync.flows.consent import consent

    from dotsync.sync.consent import watermark

    assert watermark(env.store) is None
    assert consent(return_state=True).is_completed()
    first = watermark(env.store)
    assert first is not None
    assert consent(return_state=True).is_completed()
    assert watermark(env.store) > first


# -- erasure --------------------------------------------------------------------------


def _erase_setup(env):
    stage(env.store, "customers", [customer(1), customer(2)])
    plain_run(env)
    assert env.emulator.state.contact("customer1@example.com") is not None
    stage(env.store, "customers", [customer(1, deleted_at="2026-10-20T00:00:00Z",
                                            updated_at="2026-10-20T00:00:00Z")])


def test_erasure_is_off_by_default(env):
    _erase_setup(env)
    _report, sent = plain_run(env)
    assert sent == []
    assert env.emulator.state.contact("customer1@example.com") is not None
    row = Ledger(env.store).frame("customers").set_index("key").loc["C1"]
    assert row["state"] == "synced" and "not erased" in row["detail"]


@pytest.mark.parametrize("bulk_threshold", [200, 0], ids=["single", "bulk"])
def test_erasure_deletes_the_contact_and_keeps_no_personal_data(env, monkeypatch,
                                                               bulk_threshold):
    _erase_setup(env)
    monkeypatch.setenv("DOTSYNC_PROPAGATE_DELETES", "true")
    report, _ = plain_run(env, bulk_threshold=bulk_threshold)
    assert report.counts["contacts"].erased == 1
    assert env.emulator.state.contact("customer1@example.com") is None
    assert env.emulator.state.contact("customer2@example.com") is not None
    ledger = Ledger(env.store)
    assert ledger.states("erasures") == {"C1": "synced"}
    assert "customer1@example.com" not in ledger.states("contacts")
    for entity in ("customers", "contacts", "erasures", "orders"):
        dump = ledger.frame(entity).to_csv()
        assert "customer1@example.com" not in dump


def test_orders_of_an_erased_customer_do_not_recreate_the_contact(env, monkeypatch):
    _erase_setup(env)
    monkeypatch.setenv("DOTSYNC_PROPAGATE_DELETES", "true")
    stage(env.store, "orders", [order(1, "customer1@example.com")])
    report, _ = plain_run(env)
    assert env.emulator.state.contact("customer1@example.com") is None
    waiting = [p for p in report.problems if p.key == "O1"]
    assert waiting and "deleted at the source" in waiting[0].reason


# -- the order lifecycle ------------------------------------------------------------------


def test_order_placed_dispatched_refunded_returned_with_one_confirmation(env, monkeypatch):
    monkeypatch.setenv("DOTSYNC_ORDER_CAMPAIGN", "Order confirmation")
    # Confirmations go only to orders placed after they were enabled and within
    # DOTSYNC_CONFIRMATION_MAX_AGE (SPEC §2): this store enabled them before the order,
    # and the fixed dates below must not age out with the calendar.
    from datetime import UTC, datetime

    from dotsync.sync.transactional import enable_confirmations

    enable_confirmations(env.store, datetime(2026, 10, 1, tzinfo=UTC))
    monkeypatch.setenv("DOTSYNC_CONFIRMATION_MAX_AGE", "36500d")
    stage(env.store, "customers", [customer(1)])
    steps = [
        {"status": "placed", "updated_at": "2026-10-02T10:00:00Z"},
        {"status": "dispatched", "updated_at": "2026-10-03T09:00:00Z"},
        {"status": "dispatched", "refunded": "10.00", "updated_at": "2026-10-05T12:00:00Z"},
        {"status": "returned", "refunded": "24.00", "updated_at": "2026-10-09T15:00:00Z"},
    ]
    seen = []
    for step in steps:
        stage(env.store, "orders", [order(1, "customer1@example.com", **step)])
        state = env.sync()
        assert state.is_completed(), state.message
        (record,) = env.emulator.state.insight_records("Purchases")
        seen.append(record["json"])
    assert [r["order_status"] for r in seen] == ["placed", "dispatched", "dispatched",
                                                 "returned"]
    assert "fulfilled_date" not in seen[0]
    assert seen[1]["fulfilled_date"] == "2026-10-03T09:00:00.000Z"
    assert seen[3]["fulfilled_date"] == "2026-10-03T09:00:00.000Z"  # kept after the return
    assert [r["refunded_total"] for r in seen] == [0.0, 0.0, 10.0, 24.0]
    assert [r["refunded"] for r in seen] == [False, False, True, True]
    assert sends_by_code(env.emulator.state.sends()) == {"O1": 1}
    assert states(env.store, "confirmations") == {"O1": "synced"}


# -- go-live gate -----------------------------------------------------------------------------


def test_a_deployed_run_fails_its_preflight_before_any_write(env, monkeypatch):
    monkeypatch.setenv("DOTSYNC_CERTIFICATE_CAMPAIGN_ID", "1004")  # a paused campaign
    stage(env.store, "customers", [customer(1)])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    state = env.sync(preflight=True)
    assert state.is_failed()
    assert "preflight" in state.message and "certificate_campaign" in state.message
    writes = [c for c in env.emulator.state.calls()
              if c["method"] in {"PUT", "PATCH", "POST", "DELETE"}]
    assert writes == []
    assert Ledger(env.store).frame("customers").empty
