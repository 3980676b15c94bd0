"""Consent as Dotdigital documents it, so the sync's consent rules are tested against it.

Sources (Dotdigital's contacts spec, ``dotsync/dotdigital/openapi``):

* ``channelProperties.email.status`` (request): "if not specified it remains unaltered
  for existing contacts, and for new contacts this defaults to **subscribed**"; the
  values a request may carry are ``subscribed``, ``unsubscribed`` and ``suppressed``.
* ``channelProperties.sms.status`` (request): ``noSubscription``, ``subscribed``,
  ``unsubscribed``, ``suppressed``.
* ``POST /contacts/v3`` "Create a contact": "if the identifiers passed are unique in the
  account then a new contact will be created, otherwise it will fail the call with a
  409".
* ``consentRecords``: 1 to 5 records of ``text``, ``dateTimeConsented``, ``url``,
  ``ipAddress``, ``userAgent`` (all required); read back with ``dateTimeCreated``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.helpers import by_email, import_body

JO = "/contacts/v3/email/jo@example.com"
RECORD = {"text": "Yes, send me the newsletter", "dateTimeConsented": "2026-01-26T21:29:00Z",
          "url": "https://shop.example.com/signup", "ipAddress": "192.0.2.7",
          "userAgent": "Mozilla/5.0"}


def _email_status(api, email: str = "jo@example.com") -> str:
    return api.get(f"/contacts/v3/email/{email}").json()["channelProperties"]["email"]["status"]


def test_a_contact_created_by_patch_without_a_status_is_subscribed(api) -> None:
    assert api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo"}}).status_code == 201
    assert _email_status(api) == "subscribed"


def test_a_contact_created_by_an_import_without_a_status_is_subscribed(api, emulator) -> None:
    r = api.put("/contacts/v3/import", json=import_body(by_email("jo@example.com")))
    assert r.status_code == 202
    assert _email_status(api) == "subscribed"


def test_an_existing_contact_keeps_its_status_when_none_is_sent(api) -> None:
    api.patch(JO, json={"channelProperties": {"email": {"status": "unsubscribed"}}})
    api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo"}})
    assert _email_status(api) == "unsubscribed"
    api.put("/contacts/v3/import", json=import_body(by_email("jo@example.com")))
    assert _email_status(api) == "unsubscribed"


@pytest.mark.parametrize("status", ["pendingOptIn", "noSubscription", "pending"])
def test_email_status_on_a_request_is_one_of_the_three_documented(api, status: str) -> None:
    r = api.patch(JO, json={"channelProperties": {"email": {"status": status}}})
    assert r.status_code == 400
    assert api.get(JO).status_code == 404


def test_sms_accepts_no_subscription(api) -> None:
    r = api.patch(JO, json={"identifiers": {"mobileNumber": "447911123456"},
                            "channelProperties": {"sms": {"status": "noSubscription"}}})
    assert r.status_code == 201
    assert r.json()["channelProperties"]["sms"]["status"] == "noSubscription"


def test_post_creates_a_contact_and_refuses_an_existing_one(api) -> None:
    body = {"identifiers": {"email": "jo@example.com"},
            "channelProperties": {"email": {"status": "unsubscribed"}}}
    r = api.post("/contacts/v3", json=body)
    assert r.status_code == 201
    assert r.json()["channelProperties"]["email"]["status"] == "unsubscribed"
    again = api.post("/contacts/v3", json={"identifiers": {"email": "JO@example.com"},
                                           "channelProperties": {"email": {
                                               "status": "subscribed"}}})
    assert again.status_code == 409
    assert again.json()["errorCode"] == "contacts:idAlreadyExists"
    assert _email_status(api) == "unsubscribed"


def test_post_refuses_a_mobile_number_taken_by_another_contact(api) -> None:
    api.patch(JO, json={"identifiers": {"mobileNumber": "447911123456"}})
    r = api.post("/contacts/v3", json={"identifiers": {"email": "ann@example.com",
                                                       "mobileNumber": "447911123456"}})
    assert r.status_code == 409
    assert api.get("/contacts/v3/email/ann@example.com").status_code == 404


def test_consent_records_are_kept_and_shown(api, emulator) -> None:
    r = api.patch(JO, json={"consentRecords": [RECORD]})
    assert r.status_code == 201
    shown = emulator.state.contact("jo@example.com")["consentRecords"]
    assert len(shown) == 1
    assert {k: shown[0][k] for k in RECORD} == RECORD
    assert shown[0]["dateTimeCreated"]
    with httpx.Client(base_url=emulator.url) as plain:  # the inspection API shows them
        (contact,) = plain.get("/_emulator/contacts").json()
    assert contact["consentRecords"] == shown
    listed = api.get("/contacts/v3?include=consentRecords").json()["_items"]
    assert listed[0]["consentRecords"] == shown


@pytest.mark.parametrize("missing", sorted(RECORD))
def test_a_consent_record_needs_all_five_fields(api, missing: str) -> None:
    record = {k: v for k, v in RECORD.items() if k != missing}
    r = api.patch(JO, json={"consentRecords": [record]})
    assert r.status_code == 400


def test_an_unsubscribed_contact_still_gets_a_triggered_campaign(api, emulator) -> None:
    api.post("/contacts/v3", json={"identifiers": {"email": "jo@example.com"},
                                   "channelProperties": {"email": {"status": "unsubscribed"}}})
    r = api.post("/v2/email/triggered-campaign",
                 json={"toAddresses": ["jo@example.com"], "campaignId": 1001})
    assert r.status_code == 200
    assert len(emulator.state.sends()) == 1


def test_subscribed_alone_does_not_undo_an_unsubscribe(api) -> None:
    api.post("/contacts/v3", json={"identifiers": {"email": "jo@example.com"},
                                   "channelProperties": {"email": {"status": "unsubscribed"}}})
    api.patch(JO, json={"channelProperties": {"email": {"status": "subscribed"}}})
    assert _email_status(api) == "unsubscribed"


@pytest.mark.parametrize(("challenge", "expected"), [(None, "subscribed"),
                                                     (True, "subscribed"),
                                                     (False, "pendingOptIn")])
def test_resubscribe_options_resubscribe_an_unsubscribed_channel(api, challenge,
                                                                 expected: str) -> None:
    """Spec, ``resubscribeOptions.resubscribeWithNoChallenge`` (default true): "If
    resubscribing the channel should we not send a resubscription confirmation email?"."""
    api.post("/contacts/v3", json={"identifiers": {"email": "jo@example.com"},
                                   "channelProperties": {"email": {"status": "unsubscribed"}}})
    options = {} if challenge is None else {"resubscribeWithNoChallenge": challenge}
    r = api.patch(JO, json={"channelProperties": {"email": {
        "status": "subscribed", "resubscribeOptions": options}}})
    assert r.status_code == 200
    assert _email_status(api) == expected


def test_resubscribe_options_never_lift_a_bounce(api, emulator) -> None:
    emulator.state.add_suppression("jo@example.com", "HardBounced")
    api.patch(JO, json={"channelProperties": {"email": {
        "status": "subscribed", "resubscribeOptions": {}}}})
    assert _email_status(api) == "hardBounced"
