"""A new account's structure: default data fields, default lists, no insight collection,
and the calls that read or create them (see ``dotsync.emulator.structure`` for sources)."""

from __future__ import annotations

import json

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer, load_seed
from tests.emulator.helpers import AUTH

DEFAULT_FIELDS = {"FIRSTNAME": "String", "LASTNAME": "String", "FULLNAME": "String",
                  "GENDER": "String", "POSTCODE": "String", "LASTSUBSCRIBED": "Date"}


def test_a_new_account_has_only_the_default_data_fields(api) -> None:
    fields = api.get("/v2/data-fields").json()
    assert {f["name"]: f["type"] for f in fields} == DEFAULT_FIELDS


def test_a_data_field_is_created_once(api, emulator) -> None:
    r = api.post("/v2/data-fields", json={"name": "loyalty_tier", "type": "String"})
    assert r.status_code == 201 and r.json()["name"] == "LOYALTY_TIER"
    again = httpx.post(f"{emulator.url}/v2/data-fields", auth=AUTH,
                       json={"name": "LOYALTY_TIER", "type": "String"})
    assert again.status_code == 400 and "ERROR_PARAMETER_INVALID" in again.json()["message"]
    bad = httpx.post(f"{emulator.url}/v2/data-fields", auth=AUTH,
                     json={"name": "X", "type": "Text"})
    assert bad.status_code == 400
    assert "LOYALTY_TIER" in {f["name"] for f in api.get("/v2/data-fields").json()}


def test_the_default_lists_and_an_unknown_one(api, emulator) -> None:
    books = api.get("/v2/address-books").json()
    assert {b["name"] for b in books} == {"All contacts", "Test"}
    api.patch("/contacts/v3/email/jo@example.com", json={"lists": [2]})
    assert api.get("/v2/address-books/2").json()["contacts"] == 1
    missing = httpx.get(f"{emulator.url}/v2/address-books/999", auth=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"}


def test_no_collection_until_one_is_created(api, emulator) -> None:
    assert api.get("/insightData/v3/collections").json() == []
    url = "/insightData/v3/collections/Orders2"
    assert api.post(url, params={"collectionScope": "contact",
                                 "collectionType": "orders"}).status_code == 201
    assert api.post(url, params={"collectionScope": "contact",
                                 "collectionType": "orders"}).status_code == 200
    assert api.get("/insightData/v3/collections").json() == [
        {"collectionName": "Orders2", "collectionType": "orders",
         "collectionScope": "contact", "recordCount": 0}]
    bad = httpx.post(f"{emulator.url}{url}", auth=AUTH, params={"collectionScope": "x"})
    assert bad.status_code == 400
    assert {d["item"] for d in bad.json()["details"]} == {"collectionScope", "collectionType"}


def test_the_collection_limit_answers_412(emulator) -> None:
    state = emulator.state
    for i in range(1000):
        assert state.create_collection(f"c{i}", "contact", "custom", limit=1000) is True
    r = httpx.post(f"{emulator.url}/insightData/v3/collections/one_more", auth=AUTH,
                   params={"collectionScope": "contact", "collectionType": "orders"})
    assert r.status_code == 412


def test_seeds_and_the_inspection_api_add_data_fields() -> None:
    seed = {"dataFields": ["FIRSTNAME", {"name": "POINTS", "type": "Numeric"}]}
    with EmulatorServer(EmulatorConfig(seed=seed)) as server:
        assert server.state.known_data_fields == {"FIRSTNAME", "POINTS"}
        r = httpx.post(f"{server.url}/_emulator/data-fields",
                       json=["STORE", {"name": "BIRTHDAY", "type": "Date"}])
        assert r.status_code == 200
        assert {f["name"]: f["type"] for f in r.json()} == {
            "FIRSTNAME": "String", "POINTS": "Numeric", "STORE": "String", "BIRTHDAY": "Date"}
        server.state.reset()
        assert server.state.known_data_fields == {"FIRSTNAME", "POINTS"}  # back to the seed
    with EmulatorServer(EmulatorConfig(seed={"dataFields": None})) as server:
        assert server.state.known_data_fields is None  # lenient: any well-formed name


@pytest.mark.parametrize("fields", [[{"name": "has space"}], [{"name": "X", "type": "Text"}],
                                    "FIRSTNAME"])
def test_a_bad_seed_data_field_is_an_error(fields) -> None:
    with pytest.raises(ValueError, match="dataFields"):
        load_seed({"dataFields": fields})


def test_single_record_404_bodies_are_the_specs_examples(api) -> None:
    """dotdigital-insight-data-service.json documents two 404 bodies for the single-record
    PUT; the emulator answers each with the same errorCode, description and details shape."""
    from pathlib import Path

    import dotsync.dotdigital as dd_package

    spec = json.loads((Path(dd_package.__file__).parent / "openapi"
                       / "dotdigital-insight-data-service.json").read_text(encoding="utf-8"))
    path = "/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}"
    examples = spec["paths"][path]["put"]["responses"]["404"]["content"]["application/json"][
        "examples"]
    no_contact = api.put("/insightData/v3/contacts/email/unknown@emailsim.io/myOrders/o1",
                         json={"id": "o1"})
    assert no_contact.status_code == 404
    assert no_contact.json() == examples["contactNotFound"]["value"] | {
        "details": [{"item": "unknown@emailsim.io",
                     "description": "Not found using the identifier 'email'"}]}
    api.patch("/contacts/v3/email/unknown@emailsim.io", json={})
    no_collection = api.put("/insightData/v3/contacts/email/unknown@emailsim.io/myOrders/o1",
                            json={"id": "o1"})
    assert no_collection.status_code == 404
    assert no_collection.json() == examples["collectionNotFound"]["value"]
