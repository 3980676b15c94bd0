"""Requests of the program, enrolment and insight-delete operations match Dotdigital's
published specs (``programs.yaml``, the insight data service)."""

from __future__ import annotations

import httpx
import pytest
import respx

from dotsync.dotdigital import DotdigitalClient
from dotsync.dotdigital.errors import ValidationError
from tests.contract.spec import find_operation, validate_request, validate_response
from tests.contract.test_client_requests import _body, check_all

ENROLMENT = {"id": "b0ff06d6-af04-4af8-a299-51bcbad94c1c", "programId": 5,
             "status": "Processing", "dateCreated": "2026-01-01T09:40:18Z",
             "contacts": [3, 4]}
PROGRAM = {"id": 5, "name": "Abandoned cart", "status": "Active",
           "dateCreated": "2020-01-01T09:40:18Z"}


def test_programs_listed_and_read(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get(url__regex=r"/v2/programs\?").respond(200, json=[PROGRAM])
    api.get(url__regex=r"/v2/programs/5$").respond(200, json=PROGRAM | {"status": "Draft"})
    assert [p.id for p in client.list_programs()] == [5]
    program = client.get_program(5)
    assert (program.status, program.active) == ("Draft", False)
    assert check_all(api) == ["get-programs", "get-program-by-id"]


def test_enrolment_submitted_and_read_back(client: DotdigitalClient,
                                           api: respx.MockRouter) -> None:
    api.post(url__regex=r"/v2/programs/enrolments$").respond(201, json=ENROLMENT)
    api.get(url__regex=r"/v2/programs/enrolments/[0-9a-f-]+$").respond(
        200, json=ENROLMENT | {"status": "Finished"})
    enrolment = client.enrol_contacts(5, [3, 4])
    assert (enrolment.id, enrolment.finished) == (ENROLMENT["id"], False)
    assert client.get_enrolment(enrolment.id).finished
    ops = check_all(api)
    assert ops[0] == "create-program-enrolment"
    # The spec has two GET templates for /v2/programs/enrolments/{…}: by id and by
    # status; an id is a uuid, which the by-status enum refuses.
    assert ops[1] in {"getProgramEnrolmentById", "getProgramEnrolmentsByStatus"}
    assert _body(api.calls[0].request) == {"programId": 5, "contacts": [3, 4]}


def test_enrolment_holds_at_most_the_specs_25_contacts(client: DotdigitalClient) -> None:
    with pytest.raises(ValueError, match="1 to 25"):
        client.enrol_contacts(5, list(range(1, 27)))
    with pytest.raises(ValueError, match="1 to 25"):
        client.enrol_contacts(5, [])


def test_a_program_that_is_not_active_is_a_validation_error(
        client: DotdigitalClient, api: respx.MockRouter) -> None:
    body = {"message": "Error: ERROR_PROGRAM_NOT_ACTIVE"}
    api.post(url__regex=r"/v2/programs/enrolments$").respond(422, json=body)
    with pytest.raises(ValidationError) as caught:
        client.enrol_contacts(5, [3])
    assert caught.value.error_code == "ERROR_PROGRAM_NOT_ACTIVE"
    assert len(api.calls) == 1  # not repeated: a repeat could enrol twice
    validate_response("POST", str(api.calls[0].request.url), 422, body)


def test_fault_report_is_csv(client: DotdigitalClient, api: respx.MockRouter) -> None:
    csv = ("Id,Email,TelephoneNumber,Reason\r\n12345,contact@example.com,+441234567890,"
           "Unsubcribed\r\n67890,other@example.com,,AlreadyInProgram\r\n")
    api.get(url__regex=r"/report-faults$").respond(
        200, content=csv.encode(), headers={"Content-Type": "text/csv"})
    faults = client.get_enrolment_faults(ENROLMENT["id"])
    assert [(f.contact_id, f.email, f.reason) for f in faults] == [
        (12345, "contact@example.com", "Unsubcribed"),
        (67890, "other@example.com", "AlreadyInProgram")]
    request = api.calls[0].request
    assert validate_request(request.method, str(request.url)).operation_id == \
        "get-program-enrolment-report-faults"


def test_a_lost_enrolment_answer_is_not_retried(client: DotdigitalClient,
                                                api: respx.MockRouter) -> None:
    from dotsync.dotdigital.errors import SendOutcomeUnknown

    api.post(url__regex=r"/v2/programs/enrolments$").mock(
        side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(SendOutcomeUnknown):
        client.enrol_contacts(5, [3])
    assert len(api.calls) == 1


def test_insight_record_deletes(client: DotdigitalClient, api: respx.MockRouter) -> None:
    answer = {"summary": {"totalRecords": 2, "totalDeleted": 1}, "notFound": ["X"],
              "failures": []}
    api.delete(url__regex=r"/insightData/v3/accounts/catalog_uk/deleteRecords$").respond(
        200, json=answer)
    api.delete(url__regex=r"/insightData/v3/account/catalog_uk/SKU%201$").respond(204)
    api.delete(url__regex=r"/CartInsight/deleteRecords$").respond(200, json=answer)
    api.delete(url__regex=r"/CartInsight/K1$").respond(204)
    deleted = client.delete_account_insight_records("catalog_uk", ["SKU-1", "X"])
    assert deleted.not_found == ("X",)
    client.delete_account_insight("catalog_uk", "SKU 1")
    client.delete_contact_insight_records("CartInsight", ["K1"], "jo@example.com")
    client.delete_contact_insight("CartInsight", "K1", "jo@example.com")
    assert check_all(api) == ["delAccountInsightDataRecords", "delAccountInsightDataRecord",
                              "delContactInsightDataRecords", "delContactInsightDataRecord"]
    assert _body(api.calls[0].request) == {"keys": ["SKU-1", "X"]}


def test_record_deletes_hold_at_most_5000_keys(client: DotdigitalClient) -> None:
    with pytest.raises(ValueError, match="1 to 5000"):
        client.delete_account_insight_records("catalog_uk", [str(i) for i in range(5001)])


def test_the_spec_knows_every_new_operation() -> None:
    for method, path in [("GET", "/v2/programs"), ("GET", "/v2/programs/1"),
                         ("POST", "/v2/programs/enrolments"),
                         ("GET", "/v2/programs/enrolments/x/report-faults"),
                         ("DELETE", "/insightData/v3/accounts/c/deleteRecords")]:
        assert find_operation(method, "https://r1-api.dotdigital.com" + path)
