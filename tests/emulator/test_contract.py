"""Contract: every operation the emulator serves answers as Dotdigital's specs say.

All emulator tests use a client that validates each response (``helpers.CheckedClient``);
this module drives every operation through its happy path and its main failures in one
scenario and checks that none was left unvalidated, and that the checker is not vacuous.
"""

from __future__ import annotations

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.emulator.app import ROUTES
from tests.contract.spec import SpecViolation, has_operation
from tests.emulator.helpers import (
    by_email,
    check_response,
    import_body,
    insight_body,
    make_client,
    order,
)

JO = "jo@example.com"


def _api_operations() -> set[tuple[str, str]]:
    ops = set()
    for route in ROUTES:
        if route.path.startswith("/_emulator"):
            continue
        for method in route.methods or ():
            if method != "HEAD":
                ops.add((method, route.path))
    return ops


def test_every_emulated_operation_is_documented_except_the_known_two() -> None:
    undocumented = {(m, p) for m, p in _api_operations() if not has_operation(m, p)}
    assert undocumented == {("GET", "/v2/contacts/suppressed-since/{date}"),
                            ("GET", "/v2/contacts/unsubscribed-since/{date}")}


def test_every_operation_answers_per_spec() -> None:
    config = EmulatorConfig(import_delay=0.0, rate_limit_per_minute=1000)
    with EmulatorServer(config) as server, make_client(server) as api:
        def ok(response: httpx.Response, status: int) -> httpx.Response:
            assert response.status_code == status, response.text
            return response

        ok(api.get("/v2/account-info"), 200)
        ok(api.patch(f"/contacts/v3/email/{JO}?merge-option=overwrite", json={
            "identifiers": {"mobileNumber": "447123123123"},
            "dataFields": {"FIRSTNAME": "Jo"}, "lists": [5],
            "channelProperties": {"email": {"emailType": "html", "optInType": "double",
                                            "status": "subscribed"},
                                  "sms": {"status": "subscribed"}}}), 201)
        ok(api.patch(f"/contacts/v3/email/{JO}", json={}), 200)
        ok(api.patch("/contacts/v3/email/b@example.com",
                     json={"identifiers": {"mobileNumber": "447123123123"}}), 409)
        ok(api.patch("/contacts/v3/email/nope", json={}), 400)
        ok(api.post("/contacts/v3", json={"identifiers": {"email": "new@example.com"},
                                          "channelProperties": {"email": {
                                              "status": "unsubscribed"}}}), 201)
        ok(api.post("/contacts/v3", json={"identifiers": {"email": JO}}), 409)
        ok(api.post("/contacts/v3", json={"identifiers": {"email": "nope"}}), 400)
        ok(api.get(f"/contacts/v3/email/{JO}"), 200)
        ok(api.get("/contacts/v3/email/missing@example.com"), 404)
        ok(api.get("/contacts/v3?~modified=gte::2000-01-01T00:00:00Z&limit=1"
                   "&include=channelProperties|lists&data-fields=FIRSTNAME"), 200)
        ok(api.get("/contacts/v3?~modified=yesterday"), 400)

        imp = ok(api.put("/contacts/v3/import", json=import_body(
            by_email("a@example.com"), by_email("bad"), by_email("A@example.com"))), 202)
        ok(api.get(f"/contacts/v3/import/{imp.json()['importId']}"), 200)
        ok(api.get("/contacts/v3/import/unknown"), 404)
        ok(api.put("/contacts/v3/import", json={"contacts": []}), 400)

        dele = ok(api.post("/contacts/v3/delete", json=[{"email": "a@example.com"},
                                                       {"email": "ghost@example.com"}]), 202)
        ok(api.get(f"/contacts/v3/delete/{dele.json()['deleteId']}"), 200)
        ok(api.get("/contacts/v3/delete/unknown"), 404)
        ok(api.post("/contacts/v3/delete", json=[]), 400)

        # a new account: default data fields, two lists, no insight collection
        assert "STORE" not in {f["name"] for f in ok(api.get("/v2/data-fields"), 200).json()}
        ok(api.post("/v2/data-fields", json={"name": "STORE", "type": "String"}), 201)
        ok(api.get("/v2/address-books?select=10"), 200)
        ok(api.get("/v2/address-books/2"), 200)
        assert ok(api.get("/insightData/v3/collections"), 200).json() == []
        create = "/insightData/v3/collections/Purchases?collectionScope=contact&collectionType="
        ok(api.post(create + "orders"), 201)
        ok(api.post(create + "orders"), 200)
        ok(api.post("/insightData/v3/collections/1bad?collectionScope=contact"
                    "&collectionType=orders"), 400)

        ins = ok(api.put("/insightData/v3/import", json=insight_body(
            order("o1", JO), order("o2", "ghost@example.com"))), 202)
        ok(api.get(f"/insightData/v3/import/{ins.json()['importId']}"), 200)
        ok(api.get("/insightData/v3/import/unknown"), 404)
        ok(api.put("/insightData/v3/import", json=insight_body()), 400)
        record = f"/insightData/v3/contacts/email/{JO}/Purchases/o9"
        ok(api.put(record, json={"id": "o9"}), 201)
        ok(api.put(record, json={"id": "o9"}), 204)
        ok(api.get(record), 200)
        ok(api.get(f"/insightData/v3/contacts/email/{JO}/Purchases/none"), 404)
        ok(api.put("/insightData/v3/contacts/email/ghost@example.com/Purchases/o9",
                   json={}), 404)
        ok(api.put(f"/insightData/v3/contacts/email/{JO}/1bad/o9", json={}), 400)
        ok(api.get("/insightData/v3/contacts/Purchases?limit=10"
                   "&~modified=gte::2000-01-01T00:00:00Z"), 200)
        ok(api.get("/insightData/v3/contacts/Missing?limit=10"), 404)
        ok(api.put("/insightData/v3/account/Purchases/x", json={}), 400)
        ok(api.put("/insightData/v3/account/Missing/x", json={}), 404)
        ok(api.put("/insightData/v3/import", json=insight_body(
            {"key": "p1", "json": {"name": "Hat"}}, collection="Catalog", scope="account",
            type_="catalog")), 202)
        ok(api.put("/insightData/v3/account/Catalog/p2", json={"name": "Cap"}), 201)
        ok(api.get("/insightData/v3/collections"), 200)
        ok(api.get("/insightData/v3/account"), 200)
        ok(api.get("/insightData/v3/account/Catalog/p2"), 200)
        ok(api.get("/insightData/v3/account/Catalog/none"), 404)
        ok(api.delete("/insightData/v3/account/Catalog/p2"), 204)
        ok(api.delete("/insightData/v3/account/Catalog/p2"), 404)
        ok(api.request("DELETE", "/insightData/v3/accounts/Catalog/deleteRecords",
                       json={"keys": ["p1", "gone"]}), 200)
        ok(api.request("DELETE", "/insightData/v3/accounts/Catalog/deleteRecords",
                       json={"keys": []}), 400)
        ok(api.request("DELETE", f"/insightData/v3/contacts/email/{JO}/Purchases/deleteRecords",
                       json={"keys": ["o1"]}), 200)
        ok(api.delete(record), 204)
        ok(api.delete(record), 404)

        # programs and enrolments (programs.yaml); a new account has none, so add two
        server.state.add_program(5, "Abandoned cart")
        server.state.add_program(6, "Draft journey", "Draft")
        jo_id = ok(api.get(f"/contacts/v3/email/{JO}"), 200).json()["contactId"]
        ok(api.get("/v2/programs?select=10"), 200)
        ok(api.get("/v2/programs/5"), 200)
        ok(api.get("/v2/programs/99"), 404)
        enrolment = ok(api.post("/v2/programs/enrolments",
                                json={"programId": 5, "contacts": [jo_id]}), 201).json()
        ok(api.post("/v2/programs/enrolments", json={"programId": 6, "contacts": [jo_id]}),
           422)
        ok(api.post("/v2/programs/enrolments", json={"programId": 99, "contacts": [jo_id]}),
           404)
        ok(api.post("/v2/programs/enrolments", json={"programId": 5, "contacts": []}), 400)
        ok(api.get(f"/v2/programs/enrolments/{enrolment['id']}"), 200)
        ok(api.get("/v2/programs/enrolments/Finished"), 200)
        ok(api.get(f"/v2/programs/enrolments/{enrolment['id']}/report-faults"), 200)
        ok(api.get("/v2/programs/enrolments/00000000-0000-0000-0000-000000000000"
                   "/report-faults"), 404)

        send = {"toAddresses": [JO], "campaignId": 1001,
                "personalizationValues": [{"name": "CODE", "value": "X"}]}
        ok(api.post("/v2/email/triggered-campaign", json=send), 200)
        ok(api.post("/v2/email/triggered-campaign", json={**send, "campaignId": 1}), 404)
        ok(api.post("/v2/email/triggered-campaign/batch",
                    json=[send, {**send, "campaignId": 1004}]), 200)
        ok(api.get("/v2/campaigns?select=10"), 200)
        ok(api.get("/v2/campaigns?select=2&skip=2"), 200)
        ok(api.get("/v2/campaigns/1001"), 200)
        ok(api.get("/v2/campaigns/1"), 404)
        ok(api.get("/v2/contacts/suppressed-since/2000-01-01?select=10"), 200)
        ok(api.get("/v2/contacts/unsubscribed-since/2000-01-01T00:00:00Z"), 200)
        ok(api.delete(f"/contacts/v3/email/{JO}"), 200)
        ok(api.delete(f"/contacts/v3/email/{JO}"), 404)
        server.state.faults.script.append({"kind": "error"})
        ok(api.get("/v2/account-info"), 500)
        with make_client(server, auth=None) as anonymous:
            ok(anonymous.get("/contacts/v3/email/x@example.com"), 401)

        missing = _api_operations() - api.seen
        assert not missing, f"operations never validated: {sorted(missing)}"


def _fake(method: str, url: str, status: int, body: bytes) -> httpx.Response:
    request = httpx.Request(method, url)
    return httpx.Response(status, content=body, request=request,
                          headers={"content-type": "application/json"})


def test_the_checker_is_not_vacuous() -> None:
    base = "http://127.0.0.1:1"
    bad_contact = b'{"contactId": "ten", "status": "Subscribed"}'
    with pytest.raises(SpecViolation):
        check_response(_fake("GET", f"{base}/contacts/v3/email/a@b.co", 200, bad_contact))
    with pytest.raises(AssertionError):
        check_response(_fake("GET", f"{base}/contacts/v3/email/a@b.co", 404,
                             b'{"message": "v2 style body on a v3 path"}'))
    with pytest.raises(AssertionError):
        check_response(_fake("GET", f"{base}/v2/campaigns/1", 404, b'{"error": "x"}'))
    with pytest.raises(SpecViolation):
        check_response(_fake("GET", f"{base}/contacts/v3/import/x", 200,
                             b'{"importId": "x", "status": "Done"}'))
    with pytest.raises(AssertionError):
        check_response(_fake("GET", f"{base}/v2/contacts/suppressed-since/2024-01-01", 200,
                             b'[{"email": "a@b.co"}]'))
