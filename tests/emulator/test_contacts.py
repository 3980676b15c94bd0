"""Single-contact endpoints: PATCH upsert, GET, DELETE, and the v3 listing."""

from __future__ import annotations

import base64

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import make_client

JO = "/contacts/v3/email/jo@example.com"


def test_patch_creates_then_updates(api) -> None:
    r = api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo"},
                            "channelProperties": {"email": {"emailType": "html",
                                                            "optInType": "single",
                                                            "status": "subscribed"}}})
    assert r.status_code == 201
    created = r.json()
    assert created["identifiers"] == {"email": "jo@example.com"}
    assert created["channelProperties"]["email"] == {
        "emailType": "Html", "optInType": "Single", "status": "subscribed"}
    assert created["status"] == "subscribed"

    r = api.patch(JO, json={"dataFields": {"LASTNAME": "Bloggs"}})
    assert r.status_code == 200
    updated = r.json()
    assert updated["contactId"] == created["contactId"]
    assert updated["dataFields"] == {"FIRSTNAME": "Jo", "LASTNAME": "Bloggs"}


def test_email_matching_is_case_insensitive(api) -> None:
    first = api.patch(JO, json={}).json()
    again = api.patch("/contacts/v3/email/JO@Example.COM", json={})
    assert again.status_code == 200
    assert again.json()["contactId"] == first["contactId"]


def test_null_data_field_clears_it_with_overwrite(api) -> None:
    api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo", "LASTNAME": "B"}})
    r = api.patch(JO, json={"dataFields": {"FIRSTNAME": None}})
    assert r.json()["dataFields"] == {"LASTNAME": "B"}


@pytest.mark.parametrize(("option", "expected"), [
    ("overwrite", {"FIRSTNAME": "", "LASTNAME": "New"}),
    ("overwrite-if-not-empty", {"FIRSTNAME": "Jo", "LASTNAME": "New"}),
    ("overwrite-if-empty", {"FIRSTNAME": "Jo", "LASTNAME": "Old"}),
])
def test_merge_options(api, option: str, expected: dict[str, str]) -> None:
    api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo", "LASTNAME": "Old"}})
    r = api.patch(f"{JO}?merge-option={option}",
                  json={"dataFields": {"FIRSTNAME": "", "LASTNAME": "New"}})
    assert r.status_code == 200
    assert r.json()["dataFields"] == expected


def test_invalid_merge_option(api) -> None:
    r = api.patch(f"{JO}?merge-option=overwriteIfEmpty", json={})
    assert r.status_code == 400
    assert r.json()["details"][0]["item"] == "merge-option"


def test_mobile_with_or_without_plus_is_one_contact(api) -> None:
    r = api.patch(JO, json={"identifiers": {"mobileNumber": "+447123123123"}})
    assert r.status_code == 201
    assert r.json()["identifiers"]["mobileNumber"] == "447123123123"
    assert r.json()["channelProperties"]["sms"] == {"countryCode": "GB",
                                                     "status": "noSubscription"}
    by_plain = api.get("/contacts/v3/mobileNumber/447123123123")
    by_plus = api.get("/contacts/v3/mobileNumber/+447123123123")
    assert by_plain.status_code == by_plus.status_code == 200
    assert by_plain.json()["contactId"] == by_plus.json()["contactId"] == r.json()["contactId"]


@pytest.mark.parametrize("number", ["07123 123123", "+44 7123 123123", "447700900123x", "12"])
def test_non_e164_mobile_is_rejected(api, number: str) -> None:
    r = api.patch(JO, json={"identifiers": {"mobileNumber": number}})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:invalidId"
    assert r.json()["details"][0]["item"] == "identifiers.mobileNumber"


def test_conflict_when_email_and_mobile_belong_to_two_contacts(api) -> None:
    api.patch("/contacts/v3/email/a@example.com",
              json={"identifiers": {"mobileNumber": "447123123123"}})
    api.patch("/contacts/v3/email/b@example.com", json={})
    r = api.patch("/contacts/v3/email/b@example.com",
                  json={"identifiers": {"mobileNumber": "447123123123"}})
    assert r.status_code == 409
    assert r.json()["errorCode"] == "contacts:idAlreadyExists"
    # The contacts spec's PATCH 409 example names the identifier that is taken.
    assert "'mobileNumber'" in r.json()["description"]
    # a new e-mail with a number already in use is a conflict too, and creates nothing
    r = api.patch("/contacts/v3/email/c@example.com",
                  json={"identifiers": {"mobileNumber": "+447123123123"}})
    assert r.status_code == 409
    assert api.get("/contacts/v3/email/c@example.com").status_code == 404


@pytest.mark.parametrize(("body", "item"), [
    ({"channelProperties": {"email": {"emailType": "Html"}}},
     "channelProperties.email.emailType"),
    ({"channelProperties": {"email": {"optInType": "verified_double"}}},
     "channelProperties.email.optInType"),
    ({"channelProperties": {"email": {"status": "Subscribed"}}},
     "channelProperties.email.status"),
    ({"channelProperties": {"sms": {"status": "optedIn"}}}, "channelProperties.sms.status"),
    ({"channelProperties": {"fax": {}}}, "channelProperties.fax"),
    ({"dataFields": {"A_NAME_LONGER_THAN_20": "x"}}, "dataFields.A_NAME_LONGER_THAN_20"),
    ({"dataFields": {"BAD NAME": "x"}}, "dataFields.BAD NAME"),
    ({"dataFields": {"NESTED": {"a": 1}}}, "dataFields.NESTED"),
    ({"identifiers": {"loyaltyId": "L1"}}, "identifiers.loyaltyId"),
    ({"lists": ["1"]}, "lists"),
])
def test_request_validation(api, body: dict, item: str) -> None:
    r = api.patch(JO, json=body)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:validationError"
    assert item in [d["item"] for d in r.json()["details"]]
    assert api.get(JO).status_code == 404


def test_twenty_character_data_field_name_is_fine(api, emulator) -> None:
    emulator.state.add_data_field("A" * 20)
    emulator.state.add_data_field("with-dash_1", "Numeric")
    r = api.patch(JO, json={"dataFields": {"A" * 20: "x", "with-dash_1": 2}})
    assert r.status_code == 201


def test_a_new_account_refuses_a_data_field_it_does_not_have(api, emulator) -> None:
    """Dotdigital accepts only data fields that exist in the account; a new account has
    only the defaults (FIRSTNAME, LASTNAME, FULLNAME, GENDER, POSTCODE, LASTSUBSCRIBED)."""
    for name in ("FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"):
        assert api.patch(JO, json={"dataFields": {name: "x"}}).status_code in (200, 201)
    r = api.patch(JO, json={"dataFields": {"STORE": "uk-web"}})
    assert r.status_code == 400 and r.json()["errorCode"] == "contacts:validationError"
    assert r.json()["details"] == [{"item": "dataFields.STORE",
                                    "description": "data field does not exist in the account"}]
    imp = api.put("/contacts/v3/import", json={"contacts": [
        {"matchIdentifier": "email", "identifiers": {"email": JO},
         "dataFields": {"LOCALE": "en_GB"}}]})
    assert imp.status_code == 400
    assert imp.json()["details"][0]["item"] == "contacts[0].dataFields.LOCALE"
    created = api.post("/v2/data-fields", json={"name": "STORE", "type": "String"})
    assert created.status_code == 201
    assert api.patch(JO, json={"dataFields": {"STORE": "uk-web"}}).status_code == 200


def test_bad_path_identifier_and_value(api) -> None:
    r = api.patch("/contacts/v3/email/not-an-email", json={})
    assert r.status_code == 400 and r.json()["errorCode"] == "contacts:invalidId"
    r = api.patch("/contacts/v3/shoeSize/42", json={})
    assert r.status_code == 400 and r.json()["errorCode"] == "contacts:invalidIdentifier"


def test_malformed_json(api) -> None:
    r = api.patch(JO, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:badJson"


def test_get_and_delete(api) -> None:
    assert api.get(JO).status_code == 404
    assert api.get(JO).json()["errorCode"] == "contacts:contactNotFound"
    contact_id = api.patch(JO, json={}).json()["contactId"]
    assert api.get(JO).json()["contactId"] == contact_id
    assert api.get(f"/contacts/v3/contactId/{contact_id}").status_code == 200
    r = api.delete(JO)
    assert r.status_code == 200 and r.json() == {"contactId": contact_id}
    assert api.get(JO).status_code == 404
    assert api.delete(JO).status_code == 404


def test_patch_by_unknown_contact_id_is_404(api) -> None:
    r = api.patch("/contacts/v3/contactId/999999", json={})
    assert r.status_code == 404


def test_verified_double_opt_in_leaves_contact_pending(api) -> None:
    r = api.patch(JO, json={"channelProperties": {"email": {"optInType": "verifiedDouble",
                                                            "status": "subscribed"}}})
    assert r.json()["channelProperties"]["email"]["status"] == "pendingOptIn"
    assert r.json()["status"] == "pendingOptIn"


def test_new_contact_without_status_is_subscribed_as_documented(api) -> None:
    assert api.patch(JO, json={}).json()["channelProperties"]["email"]["status"] == "subscribed"


@pytest.mark.parametrize(("email", "status"), [("unsubscribed@example.com", "unsubscribed"),
                                               ("bounced@example.com", "hardBounced")])
def test_suppressed_contacts_are_not_resubscribed(api, emulator, email: str,
                                                  status: str) -> None:
    path = f"/contacts/v3/email/{email}"
    body = {"dataFields": {"FIRSTNAME": "Sam"},
            "channelProperties": {"email": {"status": "subscribed"}}}
    for expected in (201, 200):
        r = api.patch(path, json=body)
        assert r.status_code == expected  # the update itself is accepted
        assert r.json()["channelProperties"]["email"]["status"] == status
        assert r.json()["dataFields"] == {"FIRSTNAME": "Sam"}
    assert emulator.state.contact(email)["channelProperties"]["email"]["status"] == status


def test_unsubscribed_through_the_api_stays_unsubscribed(api) -> None:
    api.patch(JO, json={"channelProperties": {"email": {"status": "unsubscribed"}}})
    r = api.patch(JO, json={"channelProperties": {"email": {"status": "subscribed"}}})
    assert r.json()["channelProperties"]["email"]["status"] == "unsubscribed"
    assert r.json()["status"] == "unsubscribed"
    unsubscribed = api.get("/v2/contacts/unsubscribed-since/2000-01-01").json()
    assert "jo@example.com" in [u["suppressedContact"]["email"] for u in unsubscribed]


def test_status_omitted_leaves_channel_alone(api) -> None:
    api.patch(JO, json={"channelProperties": {"email": {"status": "subscribed"}}})
    r = api.patch(JO, json={"channelProperties": {"email": {"emailType": "plainText"}}})
    assert r.json()["channelProperties"]["email"] == {
        "emailType": "PlainText", "optInType": "Unknown", "status": "subscribed"}


def test_lists_and_consent_records(api) -> None:
    consent = {"text": "Yes please", "dateTimeConsented": "2024-01-01T10:00:00Z",
               "url": "https://shop.example.com/signup", "ipAddress": "192.0.2.1",
               "userAgent": "Mozilla/5.0"}
    r = api.patch(JO, json={"lists": [12345], "consentRecords": [consent]})
    assert r.status_code == 201
    assert r.json()["lists"] == [{"id": 12345, "name": "List 12345", "status": "subscribed"}]
    assert r.json()["consentRecords"][0]["text"] == "Yes please"


def test_known_data_fields_from_seed() -> None:
    config = EmulatorConfig(seed={"dataFields": ["FIRSTNAME"]})
    with EmulatorServer(config) as server, make_client(server) as api:
        assert api.patch(JO, json={"dataFields": {"firstname": "Jo"}}).status_code == 201
        r = api.patch(JO, json={"dataFields": {"STORE": "uk"}})
        assert r.status_code == 400
        assert "does not exist" in r.json()["details"][0]["description"]


def test_body_over_the_limit_is_413() -> None:
    with EmulatorServer(EmulatorConfig(max_body_bytes=1000)) as server, \
            make_client(server) as api:
        r = api.patch(JO, json={"dataFields": {"BIG": "x" * 2000}})
        assert r.status_code == 413
        assert r.json()["errorCode"] == "contacts:requestTooLarge"

        def chunks():  # no Content-Length: the limit holds for a streamed body too
            yield b'{"dataFields": {"BIG": "'
            yield b"x" * 2000
            yield b'"}}'

        r = api.patch(JO, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert server.state.contacts() == []


# ------------------------------------------------------------------ GET /contacts/v3
def _make(api, n: int) -> list[int]:
    return [api.patch(f"/contacts/v3/email/c{i}@example.com", json={}).json()["contactId"]
            for i in range(n)]


def test_listing_pages_with_marker(api) -> None:
    ids = _make(api, 5)
    seen: list[int] = []
    url = "/contacts/v3?~modified=gte::2000-01-01T00:00:00Z&limit=2"
    pages = 0
    while url:
        body = api.get(url).json()
        pages += 1
        seen += [c["contactId"] for c in body["_items"]]
        nxt = body["_links"].get("next")
        url = nxt["link"] if nxt else None
    assert seen == ids
    assert pages == 3


def test_listing_filters_by_modified(api, emulator) -> None:
    _make(api, 2)
    future = "/contacts/v3?~modified=gte::2999-01-01T00:00:00.000Z"
    assert api.get(future).json()["_items"] == []


def test_listing_shows_channel_properties_and_fields_on_request(api) -> None:
    api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo", "LASTNAME": "B"}})
    plain = api.get("/contacts/v3").json()["_items"][0]
    assert "channelProperties" not in plain and "dataFields" not in plain
    rich = api.get("/contacts/v3?include=channelProperties|lists&data-fields=FIRSTNAME").json()
    item = rich["_items"][0]
    assert item["channelProperties"]["email"]["status"] == "subscribed"
    assert item["dataFields"] == {"FIRSTNAME": "Jo"}
    everything = api.get("/contacts/v3?data-fields=[[ALL]]").json()["_items"][0]
    assert everything["dataFields"] == {"FIRSTNAME": "Jo", "LASTNAME": "B"}


@pytest.mark.parametrize("query", [
    "~modified=2024-01-01T00:00:00Z", "~modified=gte::2024-01-01", "limit=0", "limit=5001",
    f"marker={base64.urlsafe_b64encode(b'nonsense').decode()}", "include=everything",
    "~modified=gte::2024-01-01T00:00:00Z&~created=gte::2024-01-01T00:00:00Z",
])
def test_listing_rejects_bad_parameters(api, query: str) -> None:
    r = api.get(f"/contacts/v3?{query}")
    assert r.status_code == 400
    assert r.json()["errorCode"] in ("contacts:invalidFilter", "contacts:validationError")
