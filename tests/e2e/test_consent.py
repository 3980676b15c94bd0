"""Consent against Dotdigital's documented defaults, end to end (README, "Consent").

The account starts empty (no collections, no suppressions, only Dotdigital's default
data fields) except where a test puts a contact there first, as a contact that existed
before dotsync. The emulator makes a contact created without a status *subscribed*, as
Dotdigital's contacts spec says, so a pass here means dotsync said otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger
from dotsync.store import warnings as field_warnings
from tests.e2e.helpers import certificate, customer, order, stage

pytestmark = pytest.mark.e2e

EMPTY_ACCOUNT = {"collections": [], "suppressed": [],
                 "dataFields": ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"]}
CONSENT = {"consent_text": "Yes, send me offers", "consent_url": "https://shop.example.com/join",
           "consent_at": "2026-09-30T08:15:00+02:00", "consent_ip": "2001:db8::7",
           "consent_user_agent": "Mozilla/5.0 (X11)"}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    seed = {**EMPTY_ACCOUNT, "contacts": [
        {"email": "before@example.com", "dataFields": {"FIRSTNAME": "Bea"},
         "channelProperties": {"email": {"status": "subscribed"}}}]}
    with EmulatorServer(EmulatorConfig(import_delay=0.05, random_seed=1, seed=seed)) as server:
        yield server


def _status(env, email: str) -> str:
    contact = env.emulator.state.contact(email)
    assert contact is not None, email
    return contact["channelProperties"]["email"]["status"]


def _stage_shop(env) -> None:
    stage(env.store, "customers", [
        customer(1, email="yes@example.com", email_consent="subscribed", **CONSENT),
        customer(2, email="pending@example.com", email_consent="pending"),
        customer(3, email="silent@example.com", email_consent=None),
        customer(4, email="Before@Example.com", email_consent=None, first_name="Beatrice"),
        customer(5, email="no@example.com", email_consent="unsubscribed"),
    ])
    stage(env.store, "orders", [order(1, "guest@example.com")])
    stage(env.store, "certificates", [certificate(1, "gift@example.com")])


@pytest.mark.parametrize("bulk_threshold", [200, 0], ids=["single-calls", "bulk-imports"])
def test_only_consenting_contacts_end_marketable(env, bulk_threshold: int) -> None:
    _stage_shop(env)
    assert env.sync(bulk_threshold=bulk_threshold).is_completed()
    assert _status(env, "yes@example.com") == "subscribed"
    for email in ("pending@example.com", "silent@example.com", "guest@example.com",
                  "gift@example.com", "no@example.com"):
        assert _status(env, email) == "unsubscribed", email
    # A contact that was in Dotdigital before dotsync keeps its status; its data is updated.
    before = env.emulator.state.contact("before@example.com")
    assert before["channelProperties"]["email"]["status"] == "subscribed"
    assert before["dataFields"]["FIRSTNAME"] == "Beatrice"
    # The certificate is transactional: it reaches the non-marketable recipient.
    assert [s["toAddresses"] for s in env.emulator.state.sends()] == [["gift@example.com"]]
    # The consent record went with the consenting customer, in Dotdigital's shape.
    (record,) = env.emulator.state.contact("yes@example.com")["consentRecords"]
    assert {k: record[k] for k in ("text", "url", "dateTimeConsented", "ipAddress",
                                   "userAgent")} == {
        "text": "Yes, send me offers", "url": "https://shop.example.com/join",
        "dateTimeConsented": "2026-09-30T06:15:00Z", "ipAddress": "2001:db8::7",
        "userAgent": "Mozilla/5.0 (X11)"}
    assert "consentRecords" not in env.emulator.state.contact("pending@example.com")
    calls = [(c["method"], c["path"]) for c in env.emulator.state.calls()]
    if bulk_threshold == 0:  # imports cannot create only: one listing of the account
        assert calls.count(("GET", "/contacts/v3")) == 1
        assert ("POST", "/contacts/v3") not in calls
    else:  # a create-only call per contact without the source's own status
        assert ("GET", "/contacts/v3") not in calls
        # pending, silent, guest, gift, and before (409: it exists, then a PATCH)
        assert calls.count(("POST", "/contacts/v3")) == 5
        assert ("PATCH", "/contacts/v3/email/before@example.com") in calls


def test_a_second_run_never_changes_an_existing_status_with_a_null(env) -> None:
    _stage_shop(env)
    assert env.sync().is_completed()
    # Someone subscribes in Dotdigital itself (a sign-up form); the shop still says null.
    env.emulator.state.upsert_contact(
        {"identifiers": {"email": "silent@example.com"},
         "channelProperties": {"email": {"status": "subscribed",
                                         "resubscribeOptions": {}}}},
        match="email", merge="overwrite")
    assert _status(env, "silent@example.com") == "subscribed"
    stage(env.store, "customers", [customer(3, email="silent@example.com", email_consent=None,
                                            first_name="Sid",
                                            updated_at="2026-10-05T10:00:00Z")])
    assert env.sync().is_completed()
    contact = env.emulator.state.contact("silent@example.com")
    assert contact["dataFields"]["FIRSTNAME"] == "Sid"
    assert contact["channelProperties"]["email"]["status"] == "subscribed"


@pytest.mark.parametrize("bulk_threshold", [200, 0], ids=["single-calls", "bulk-imports"])
def test_a_later_opt_in_resubscribes_a_contact_dotsync_made_non_marketable(
        env, bulk_threshold: int) -> None:
    _stage_shop(env)
    assert env.sync(bulk_threshold=bulk_threshold).is_completed()
    assert _status(env, "pending@example.com") == "unsubscribed"
    stage(env.store, "customers", [
        customer(2, email="pending@example.com", email_consent="subscribed",
                 updated_at="2026-10-06T10:00:00Z"),
        customer(6, email="guest@example.com", email_consent="subscribed",
                 updated_at="2026-10-06T10:00:00Z"),
    ])
    assert env.sync(bulk_threshold=bulk_threshold).is_completed()
    assert _status(env, "pending@example.com") == "subscribed"
    assert _status(env, "guest@example.com") == "subscribed"
    # Once resubscribed, the ledger no longer holds the mark: a later unsubscribe in
    # Dotdigital is never undone by dotsync without a newer consent from the source.
    detail = Ledger(env.store).frame("contacts", ["pending@example.com"])["detail"].iloc[0]
    assert detail is None


def test_a_bad_consent_record_is_left_out_and_the_contact_still_goes(env) -> None:
    stage(env.store, "customers", [
        customer(1, email="yes@example.com", email_consent="subscribed",
                 **{**CONSENT, "consent_ip": "999.1.1.1", "consent_url": "javascript:x"}),
        customer(2, email="half@example.com", email_consent="subscribed",
                 consent_text="Yes please"),
    ])
    state = env.sync()
    assert state.is_completed()
    for email in ("yes@example.com", "half@example.com"):
        contact = env.emulator.state.contact(email)
        assert contact["channelProperties"]["email"]["status"] == "subscribed"
        assert "consentRecords" not in contact
    report = state.result()
    # SPEC §1: a problem in an optional field is a warning naming the record and field.
    reported = {(w["key"], w["field"]): w["reason"] for w in report["warnings"]}
    stored = field_warnings.frame(env.store, "customers")
    assert {(k, f) for k, f in zip(stored["key"], stored["field"], strict=True)} == set(
        reported)
    yes, half = customer(1)["customer_id"], customer(2)["customer_id"]
    assert "consent_ip is not an IPv4 or IPv6 address" in reported[(yes, "consent_ip")]
    assert "consent_url is not an http(s) URL" in reported[(yes, "consent_url")]
    # Only the text was given: the warning is on it, and names what was missing.
    assert {f for k, f in reported if k == half} == {"consent_text"}
    assert "missing: consent_url, consent_at" in reported[(half, "consent_text")]
    assert "999.1.1.1" not in str(report["warnings"])  # an IP address is personal data
    assert report["contacts"]["consent_records_left_out"] == 2


def test_the_read_back_does_not_report_dotsyncs_own_unsubscribes(env) -> None:
    """The source system reads the suppressions table: a guest dotsync created
    non-marketable did not unsubscribe, so it is not there; a real unsubscribe is."""
    from datetime import UTC, datetime, timedelta

    from dotsync.sync.consent import read_back

    _stage_shop(env)
    assert env.sync().is_completed()
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    env.emulator.state.add_suppression("silent@example.com", "Unsubscribed", later)
    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient

    with DotdigitalClient.from_settings(Settings.from_env()) as client:
        read_back(client, env.store)
    with env.store.engine.connect() as conn:
        import sqlalchemy as sa

        from dotsync.store.schema import suppressions

        recorded = {r.email for r in conn.execute(sa.select(suppressions))}
    assert recorded == {"silent@example.com", "no@example.com"}
