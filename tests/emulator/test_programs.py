"""Emulated programs and enrolments (``programs.yaml``) and insight record deletes
(``dotdigital-insight-data-service.json``); every response is checked against the specs
by the helpers' client."""

from __future__ import annotations

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.emulator.config import load_seed
from tests.emulator.helpers import insight_body, make_client

JO = "jo@example.com"
SEED = {"programs": [{"id": 5, "name": "Abandoned cart"},
                     {"id": 6, "name": "Draft journey", "status": "Draft"},
                     {"id": 7, "name": "Old", "status": "Deactivated"}]}


@pytest.fixture
def server():
    with EmulatorServer(EmulatorConfig(seed=SEED, import_delay=0.0)) as running:
        yield running


def _contact(api, email: str) -> int:
    response = api.patch(f"/contacts/v3/email/{email}", json={})
    assert response.status_code in (200, 201)
    return int(response.json()["contactId"])


def test_programs_are_listed_and_read(server) -> None:
    with make_client(server) as api:
        listed = api.get("/v2/programs").json()
        assert [(p["id"], p["status"]) for p in listed] == [
            (5, "Active"), (6, "Draft"), (7, "Deactivated")]
        assert api.get("/v2/programs?select=1&skip=1").json()[0]["id"] == 6
        assert api.get("/v2/programs/5").json()["name"] == "Abandoned cart"
        missing = api.get("/v2/programs/99")
        assert (missing.status_code, missing.json()["message"]) == (
            404, "Error: ERROR_PROGRAM_NOT_FOUND")
        assert api.get("/v2/programs?select=0").status_code == 400


def test_an_enrolment_is_asynchronous_and_reports_its_faults() -> None:
    config = EmulatorConfig(seed=SEED, import_delay=30.0)
    with EmulatorServer(config) as server, make_client(server) as api:
        jo, ann = _contact(api, JO), _contact(api, "ann@example.com")
        server.state.add_suppression("ann@example.com")
        created = api.post("/v2/programs/enrolments", json={"programId": 5,
                                                            "contacts": [jo, ann]})
        assert created.status_code == 201
        enrolment = created.json()
        assert enrolment["status"] == "Processing"
        # The spec: the fault report is not available while the enrolment processes.
        early = api.get(f"/v2/programs/enrolments/{enrolment['id']}/report-faults")
        assert (early.status_code, early.json()["message"]) == (
            400, "Error: ERROR_ENROLMENT_IS_PROCESSING")
        assert [e["id"] for e in api.get("/v2/programs/enrolments/Processing").json()] == [
            enrolment["id"]]
        with server.state.lock:
            server.state.programs.complete_all()
        done = api.get(f"/v2/programs/enrolments/{enrolment['id']}").json()
        assert done["status"] == "Finished" and done["contacts"] == [jo, ann]
        report = api.get(f"/v2/programs/enrolments/{enrolment['id']}/report-faults")
        assert report.headers["content-type"].startswith("text/csv")
        assert report.text.splitlines() == ["Id,Email,TelephoneNumber,Reason",
                                            f"{ann},ann@example.com,,Unsubscribed"]
        with server.state.lock:
            assert server.state.programs.enrolled(5) == {jo: 1}


def test_enrolment_refusals_follow_the_spec(server) -> None:
    with make_client(server) as api:
        jo = _contact(api, JO)

        def enrol(body):
            response = api.post("/v2/programs/enrolments", json=body)
            return response.status_code, response.json()["message"].split()[-1]

        # programs.yaml: 422 "The program exists but is not active".
        assert enrol({"programId": 6, "contacts": [jo]}) == (422, "ERROR_PROGRAM_NOT_ACTIVE")
        assert enrol({"programId": 7, "contacts": [jo]}) == (422, "ERROR_PROGRAM_NOT_ACTIVE")
        assert enrol({"programId": 99, "contacts": [jo]}) == (404, "ERROR_PROGRAM_NOT_FOUND")
        assert enrol({"programId": 5, "contacts": []}) == (400, "ERROR_ENROLMENT_INVALID")
        # maxItems: 25 contact ids a call.
        assert enrol({"programId": 5, "contacts": [jo] * 26}) == (
            400, "ERROR_ENROLMENT_INVALID")
        assert enrol({"programId": 5, "contacts": [jo, 999999]}) == (
            400, "ERROR_CONTACT_NOT_FOUND")
        assert api.get("/v2/programs/enrolments/00000000-0000-0000-0000-000000000000"
                       ).status_code == 404
        with server.state.lock:
            assert server.state.programs.enrolled(5) == {}
            server.state.programs.set_status(6, "Active")
        assert api.post("/v2/programs/enrolments",
                        json={"programId": 6, "contacts": [jo]}).status_code == 201


def test_a_seed_program_needs_an_id_and_a_name() -> None:
    with pytest.raises(ValueError, match="programs"):
        load_seed({"programs": [{"name": "no id"}]})


def test_account_collections_and_record_deletes(server) -> None:
    with make_client(server) as api:
        assert api.put("/insightData/v3/import", json=insight_body(
            {"key": "A", "json": {"sku": "A"}}, {"key": "B", "json": {"sku": "B"}},
            collection="catalog_uk", scope="account", type_="catalog")).status_code == 202
        server.state.complete_imports()
        assert [c["collectionName"] for c in api.get("/insightData/v3/account").json()] == [
            "catalog_uk"]
        assert api.get("/insightData/v3/account/catalog_uk/A").json()["json"] == {"sku": "A"}
        assert api.delete("/insightData/v3/account/catalog_uk/A").status_code == 204
        assert api.delete("/insightData/v3/account/catalog_uk/A").status_code == 404
        assert api.get("/insightData/v3/account/catalog_uk/A").status_code == 404
        bulk = api.request("DELETE", "/insightData/v3/accounts/catalog_uk/deleteRecords",
                           json={"keys": ["B", "ghost"]})
        assert bulk.json() == {"summary": {"totalRecords": 2, "totalDeleted": 1,
                                           "totalNotFound": 1}, "failures": [],
                               "notFound": ["ghost"]}
        none = api.request("DELETE", "/insightData/v3/accounts/catalog_uk/deleteRecords",
                           json={"keys": []})
        assert none.json()["errorCode"] == "insightData:noRecordsSpecified"
        assert api.request("DELETE", "/insightData/v3/accounts/nope/deleteRecords",
                           json={"keys": ["x"]}).status_code == 404
        assert server.state.insight_records("catalog_uk") == []


def test_cart_insight_records_and_their_deletes(server) -> None:
    with make_client(server) as api:
        _contact(api, JO)
        create = ("/insightData/v3/collections/CartInsight?collectionScope=contact"
                  "&collectionType=cartInsight")
        assert api.post(create).status_code == 201
        record = f"/insightData/v3/contacts/email/{JO}/CartInsight/K1"
        cart = {"cartId": "K1", "cartPhase": "ORDER_PENDING", "currency": "GBP",
                "lineItems": [{"sku": "MUG", "name": "Mug", "quantity": 1.0,
                               "unitPrice": 4.5, "totalPrice": 4.5}]}
        assert api.put(record, json=cart).status_code == 201
        assert api.put(record, json=cart | {"cartPhase": "ORDER_COMPLETE"}).status_code == 204
        assert api.get(record).json()["json"]["cartPhase"] == "ORDER_COMPLETE"
        # The catalogue path refuses a contact-scoped collection.
        assert api.delete("/insightData/v3/account/CartInsight/K1").status_code == 400
        bulk = api.request(
            "DELETE", f"/insightData/v3/contacts/email/{JO}/CartInsight/deleteRecords",
            json={"keys": ["K1"]})
        assert bulk.json()["summary"]["totalDeleted"] == 1
        assert api.delete(record).status_code == 404
        assert api.delete("/insightData/v3/contacts/email/ghost@example.com/CartInsight/K1"
                          ).status_code == 404


def test_a_contact_deleted_while_the_enrolment_processes_is_a_fault() -> None:
    config = EmulatorConfig(seed=SEED, import_delay=30.0)
    with EmulatorServer(config) as server, make_client(server) as api:
        jo = _contact(api, JO)
        enrolment = api.post("/v2/programs/enrolments",
                             json={"programId": 5, "contacts": [jo]}).json()
        assert api.delete(f"/contacts/v3/email/{JO}").status_code == 200
        with server.state.lock:
            server.state.programs.complete_all()
        report = api.get(f"/v2/programs/enrolments/{enrolment['id']}/report-faults")
        assert report.text.splitlines()[1:] == [f"{jo},,,ContactNotFound"]
        with server.state.lock:
            assert server.state.programs.enrolled(5) == {}
