"""Insight data: bulk imports with per-record failures, single upserts, collections."""

from __future__ import annotations

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import insight_body, make_client, order

JO = "jo@example.com"


@pytest.fixture(autouse=True)
def purchases(api) -> None:
    """A new account has no collection (the emulator's default seed holds none): create
    ``Purchases`` as dotsync does, through ``POST /insightData/v3/collections/{name}``."""
    r = api.post("/insightData/v3/collections/Purchases",
                 params={"collectionScope": "contact", "collectionType": "orders"})
    assert r.status_code == 201


def _report(api, import_id: str) -> dict:
    r = api.get(f"/insightData/v3/import/{import_id}")
    assert r.status_code == 200
    return r.json()


def _contact(api, email: str = JO) -> int:
    return api.patch(f"/contacts/v3/email/{email}", json={}).json()["contactId"]


def test_import_orders_for_existing_contact(api, emulator) -> None:
    contact_id = _contact(api)
    r = api.put("/insightData/v3/import", json=insight_body(
        order("o1", JO, products=[{"sku": "A", "qty": 1, "categories": "hats,caps"}]),
        order("o2", JO)))
    assert r.status_code == 202
    report = _report(api, r.json()["importId"])
    assert report["status"] == "Complete"
    assert report["collectionName"] == "Purchases"
    assert report["summary"] == {"totalRecords": 2, "totalImported": 2, "totalRejected": 0}
    records = emulator.state.insight_records("Purchases")
    assert sorted(r["key"] for r in records) == ["o1", "o2"]
    assert {r["contactId"] for r in records} == {contact_id}


def test_same_key_replaces_the_record(api, emulator) -> None:
    _contact(api)
    api.put("/insightData/v3/import", json=insight_body(order("o1", JO, order_status="new")))
    api.put("/insightData/v3/import", json=insight_body(order("o1", JO, order_status="paid")))
    records = emulator.state.insight_records("Purchases")
    assert len(records) == 1 and records[0]["json"]["order_status"] == "paid"


def test_per_record_failures(api, emulator) -> None:
    _contact(api)
    r = api.put("/insightData/v3/import", json=insight_body(
        order("ok", JO),
        order("guest", "guest@example.com"),
        order("nested", JO, products=[["a", "b"]]),
        order("ok", JO, order_total=11),
        order("typed", JO, order_total="ten"),
    ))
    report = _report(api, r.json()["importId"])
    reasons = {f["key"]: f["failureReason"] for f in report["failures"]}
    assert reasons == {"guest": "ContactEmailDoesNotExist",
                       "nested": "JsonContainsNestedArray",
                       "ok": "DuplicateKey",
                       "typed": "JsonValueIncompatibleWithSchema"}
    assert report["summary"] == {"totalRecords": 5, "totalImported": 1, "totalRejected": 4}
    guest = next(f for f in report["failures"] if f["key"] == "guest")
    assert guest["collectionOwner"] == {"ownerType": "contact", "contactIdentity": {
        "identifier": "email", "value": "guest@example.com"}}
    assert [r["key"] for r in emulator.state.insight_records("Purchases")] == ["ok"]


def test_contact_must_exist_when_the_import_is_processed() -> None:
    """Not when it is submitted: a contact created meanwhile is found."""
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, make_client(server) as api:
        r = api.put("/insightData/v3/import", json=insight_body(order("o1", JO)))
        import_id = r.json()["importId"]
        assert _report(api, import_id)["status"] == "Processing"
        _contact(api)
        server.state.complete_imports()
        assert _report(api, import_id)["summary"]["totalImported"] == 1

        r = api.put("/insightData/v3/import", json=insight_body(order("o2", "b@example.com")))
        import_id = r.json()["importId"]
        _contact(api, "b@example.com")
        api.delete("/contacts/v3/email/b@example.com")
        server.state.complete_imports()
        report = _report(api, import_id)
        assert report["failures"][0]["failureReason"] == "ContactEmailDoesNotExist"


def test_docs_style_status_words() -> None:
    config = EmulatorConfig(import_delay=60, insight_status_style="docs")
    with EmulatorServer(config) as server, make_client(server) as api:
        import_id = api.put("/insightData/v3/import",
                            json=insight_body(order("o1", JO))).json()["importId"]
        assert _report(api, import_id)["status"] == "NotFinished"
        server.state.complete_imports()
        assert _report(api, import_id)["status"] == "Finished"


def test_import_creates_a_missing_collection(api) -> None:
    r = api.put("/insightData/v3/import", json=insight_body(
        {"key": "sku-1", "json": {"name": "Hat", "price": 5}},
        collection="Catalog_Main", scope="account", type_="catalog"))
    assert _report(api, r.json()["importId"])["summary"]["totalImported"] == 1
    names = {c["collectionName"]: c for c in api.get("/insightData/v3/collections").json()}
    assert names["Catalog_Main"] == {"collectionName": "Catalog_Main",
                                     "collectionType": "catalog", "collectionScope": "account",
                                     "recordCount": 1}


def test_at_most_5_active_insight_imports() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, make_client(server) as api:
        for i in range(5):
            r = api.put("/insightData/v3/import", json=insight_body(order(f"o{i}", JO)))
            assert r.status_code == 202
        r = api.put("/insightData/v3/import", json=insight_body(order("late", JO)))
        assert r.status_code == 429
        assert r.json()["errorCode"] == "insightData:tooManyActiveImports"
        # contact imports have their own limit
        r = api.put("/contacts/v3/import", json={"contacts": [
            {"matchIdentifier": "email", "identifiers": {"email": JO}}]})
        assert r.status_code == 202
        server.state.complete_imports()
        assert api.put("/insightData/v3/import",
                       json=insight_body(order("late", JO))).status_code == 202


@pytest.mark.parametrize(("body", "item"), [
    (insight_body(order("o1", JO), collection="1Purchases"), "collectionName"),
    (insight_body(order("o1", JO), collection="has space"), "collectionName"),
    (insight_body(order("o1", JO), scope="Contact"), "collectionScope"),
    (insight_body(order("o1", JO), type_="Orders"), "collectionType"),
    (insight_body(), "records"),
    (insight_body({"key": "o1", "json": {}}), "records[0].contactIdentity"),
    (insight_body({"key": "o1", "contactIdentity": {"identifier": "email", "value": JO},
                   "json": "[]"}), "records[0].json"),
    (insight_body(order("o1", JO), scope="account"), "collectionScope"),  # Purchases: contact
])
def test_import_request_validation(api, body: dict, item: str) -> None:
    r = api.put("/insightData/v3/import", json=body)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "insightData:validationError"
    assert item in [d["item"] for d in r.json()["details"]]


def test_unknown_insight_import(api) -> None:
    r = api.get("/insightData/v3/import/nope")
    assert r.status_code == 404 and r.json()["errorCode"] == "insightData:importNotFound"


# ------------------------------------------------------------------ single upserts
RECORD = f"/insightData/v3/contacts/email/{JO}/Purchases/o1"


def test_single_contact_record_created_then_replaced(api, emulator) -> None:
    contact_id = _contact(api)
    r = api.put(RECORD, json={"id": "o1", "order_total": 5})
    assert r.status_code == 201 and r.content == b""
    r = api.put(RECORD, json={"id": "o1", "order_total": 6})
    assert r.status_code == 204
    got = api.get(RECORD)
    assert got.status_code == 200
    assert got.json()["json"] == {"id": "o1", "order_total": 6}
    assert got.json()["ownerContactId"] == contact_id


def test_single_record_for_unknown_contact_is_404(api) -> None:
    r = api.put(RECORD, json={"id": "o1"})
    assert r.status_code == 404
    assert r.json()["errorCode"] == "insightData:contactNotFound"


def test_single_record_needs_an_existing_collection(api) -> None:
    _contact(api)
    r = api.put(f"/insightData/v3/contacts/email/{JO}/NoSuchCollection/o1", json={"id": "o1"})
    assert r.status_code == 404
    assert r.json()["errorCode"] == "insightData:collectionNotFound"


@pytest.mark.parametrize(("path", "body", "code"), [
    (f"/insightData/v3/contacts/email/{JO}/bad name/o1", {"id": 1}, "insightData:invalidId"),
    ("/insightData/v3/contacts/email/not-an-email/Purchases/o1", {"id": 1},
     "insightData:invalidId"),
    (RECORD, [1, 2], "insightData:badJson"),
    (RECORD, {"products": [[1]]}, "insightData:jsonContainsNestedArray"),
])
def test_single_record_validation(api, path: str, body, code: str) -> None:
    _contact(api)
    r = api.put(path, json=body)
    assert r.status_code == 400
    assert r.json()["errorCode"] == code


def test_single_record_type_change_is_rejected(api) -> None:
    _contact(api)
    api.put(RECORD, json={"order_total": 5})
    r = api.put(RECORD, json={"order_total": "five"})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "insightData:jsonValueIncompatibleWithSchema"


def test_account_record(api, emulator) -> None:
    api.put("/insightData/v3/import", json=insight_body(
        {"key": "sku-1", "json": {"name": "Hat"}}, collection="Catalog", scope="account",
        type_="catalog"))
    r = api.put("/insightData/v3/account/Catalog/sku-2", json={"name": "Cap"})
    assert r.status_code == 201
    assert api.put("/insightData/v3/account/Catalog/sku-2", json={"name": "Cap"}).status_code \
        == 204
    assert api.put("/insightData/v3/account/Nope/sku-2", json={}).status_code == 404
    assert api.put("/insightData/v3/account/Purchases/sku-2", json={}).status_code == 400
    assert {r["key"] for r in emulator.state.insight()["Catalog"]["records"]} == {"sku-1",
                                                                                  "sku-2"}


def test_deleting_a_contact_removes_its_records(api, emulator) -> None:
    _contact(api)
    api.put(RECORD, json={"id": "o1"})
    api.delete(f"/contacts/v3/email/{JO}")
    assert emulator.state.insight_records("Purchases") == []


def test_deleting_a_contact_deletes_its_records_and_only_its_records(api, emulator) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        _contact(api, email)
    api.put("/insightData/v3/import", json=insight_body(
        order("o1", "a@example.com"), order("o2", "a@example.com"), order("o3", "b@example.com")))
    api.put("/insightData/v3/import", json=insight_body(
        order("r1", "a@example.com"), order("r2", "c@example.com"), collection="Returns"))

    def keys(collection: str) -> set[str]:
        return {r["key"] for r in emulator.state.insight_records(collection)}

    assert api.delete("/contacts/v3/email/a@example.com").status_code == 200
    assert keys("Purchases") == {"o3"} and keys("Returns") == {"r2"}
    # Records stored after the first delete are found by the next one as well.
    api.put("/insightData/v3/import", json=insight_body(
        order("o4", "b@example.com"), order("o5", "c@example.com")))
    assert api.delete("/contacts/v3/email/b@example.com").status_code == 200
    assert keys("Purchases") == {"o5"} and keys("Returns") == {"r2"}
    assert emulator.state.collection("Purchases") is not None
    assert "_by_contact" not in emulator.state.collection("Purchases")
    assert api.delete("/contacts/v3/email/c@example.com").status_code == 200
    assert keys("Purchases") == set() and keys("Returns") == set()
