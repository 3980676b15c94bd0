"""Consent records and the statuses a contact gets (README, "Consent")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dotsync.sync import consent_policy, payloads
from dotsync.sync.consent_census import Census
from dotsync.sync.consent_records import COLUMNS, consent_record

GOOD = {"consent_text": "Yes please", "consent_url": "https://shop.example.com/join?x=1",
        "consent_at": "2026-09-30T08:15:00+02:00", "consent_ip": "192.0.2.7",
        "consent_user_agent": "Mozilla/5.0"}


def test_a_full_record_in_dotdigitals_shape() -> None:
    record, problems = consent_record(GOOD)
    assert problems == []
    assert record == {"text": "Yes please", "url": "https://shop.example.com/join?x=1",
                      "dateTimeConsented": "2026-09-30T06:15:00Z", "ipAddress": "192.0.2.7",
                      "userAgent": "Mozilla/5.0"}


def test_no_columns_no_record_no_problem() -> None:
    assert consent_record({"email": "a@example.com"}) == (None, [])
    assert consent_record(dict.fromkeys(COLUMNS, " ")) == (None, [])


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("consent_url", "ftp://shop.example.com/", "not an http(s) URL"),
    ("consent_url", "https://", "not an http(s) URL"),
    ("consent_url", "https://shop.example.com/a b", "not an http(s) URL"),
    ("consent_at", "yesterday", "not an ISO 8601 timestamp"),
    ("consent_at", "-1", "not an ISO 8601 timestamp"),
    ("consent_ip", "256.1.1.1", "not an IPv4 or IPv6 address"),
    ("consent_ip", "::g", "not an IPv4 or IPv6 address"),
])
def test_an_invalid_value_leaves_the_record_out_and_names_the_field(
        column: str, value: str, reason: str) -> None:
    record, problems = consent_record({**GOOD, column: value})
    assert record is None
    assert problems == [(column, f"{column} is {reason}")]
    assert value not in problems[0][1]


@given(st.sets(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS) - 1))
def test_a_partial_record_names_every_missing_column(given_columns: set[str]) -> None:
    record, problems = consent_record({c: GOOD[c] for c in given_columns})
    assert record is None
    assert {f for f, _ in problems} == set(COLUMNS) - given_columns


@pytest.mark.parametrize(("consent", "status"), [("subscribed", "subscribed"),
                                                  ("unsubscribed", "unsubscribed"),
                                                  ("pending", None), (None, None)])
def test_only_the_sources_own_word_is_sent_as_a_status(consent, status) -> None:
    row = {"customer_id": "C1", "email": "a@example.com", "mobile_number": "+447911123456",
           "email_consent": consent, "sms_consent": consent}
    payload = payloads.contact_payload(row)
    assert payload["channelProperties"]["email"].get("status") == status
    assert payload["channelProperties"].get("sms", {}).get("status") == status
    create = consent_policy.creation_channels(payload, row)
    if status is None:  # what a contact dotsync creates gets instead of Dotdigital's default
        assert create == {"email": {"status": "unsubscribed"},
                          "sms": {"status": "noSubscription"}}
        sent = consent_policy.for_creation(payload, create)
        assert sent["channelProperties"]["email"]["emailType"] == "html"
        assert "status" not in payload["channelProperties"]["email"]  # not changed in place
    else:
        assert create == {}


def test_a_guest_is_created_non_marketable() -> None:
    payload = payloads.contact_payload({"email": "guest@example.com"})
    assert "channelProperties" not in payload
    create = consent_policy.creation_channels(payload, {})
    assert consent_policy.for_creation(payload, create)["channelProperties"] == {
        "email": {"status": "unsubscribed"}}


def test_resubscribe_only_adds_the_options() -> None:
    payload = payloads.contact_payload({"customer_id": "C1", "email": "a@example.com",
                                        "email_consent": "subscribed"})
    sent = consent_policy.for_resubscribe(payload)
    assert sent["channelProperties"]["email"]["resubscribeOptions"] == {
        "resubscribeWithNoChallenge": True}
    assert sent["channelProperties"]["email"]["status"] == "subscribed"
    assert "resubscribeOptions" not in payload["channelProperties"]["email"]


@given(st.lists(st.emails(), max_size=50, unique=True), st.emails())
def test_census_membership(present: list[str], other: str) -> None:
    census = Census.of(e.lower() for e in present)
    assert all(census.holds(e.lower()) for e in present)
    if other.lower() not in {e.lower() for e in present}:
        # A 64-bit hash collision among 50 values is not a practical concern.
        assert not census.holds(other.lower())


def test_the_creation_and_resubscribe_copies_share_nothing_with_the_payload() -> None:
    """The copies are changed later (a mobile number dropped, options added): the
    payload behind the ledger's fingerprint must not change with them."""
    import copy

    from dotsync.sync import consent_policy

    payload = {"identifiers": {"email": "a@example.com", "mobileNumber": "+447700900123"},
               "channelProperties": {"email": {"emailType": "html", "optInType": "single"},
                                     "sms": {"status": "subscribed"}}}
    before = copy.deepcopy(payload)
    created = consent_policy.for_creation(payload, {"email": {"status": "pendingOptIn"}})
    resubscribed = consent_policy.for_resubscribe(payload)
    for out in (created, resubscribed):
        for props in out["channelProperties"].values():
            props["changed"] = True
    assert payload == before
    assert created["channelProperties"]["email"]["status"] == "pendingOptIn"
    assert created["channelProperties"]["email"]["emailType"] == "html"
    assert resubscribed["channelProperties"]["email"]["resubscribeOptions"] == \
        consent_policy.RESUBSCRIBE
