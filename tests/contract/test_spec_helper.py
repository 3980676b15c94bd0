"""The spec helper itself: it must catch what it claims to catch, and tolerate only its quirks."""

from __future__ import annotations

import pytest

from tests.contract.spec import (
    NO_BODY,
    OperationNotInSpec,
    SpecViolation,
    find_operation,
    has_operation,
    load_specs,
    validate_request,
    validate_response,
)

R1 = "https://r1-api.dotdigital.com"


def test_loads_every_spec_file() -> None:
    names = {spec.name for spec in load_specs().specs}
    assert "dotdigital-contacts-service.json" in names
    assert "transactional-email.yaml" in names
    assert len(names) == 11


def test_literal_segments_win_over_parameters() -> None:
    assert find_operation("GET", f"{R1}/contacts/v3/import/abc").operation_id == "getImportStatus"
    assert find_operation("GET", "/contacts/v3/delete/abc").operation_id == "getDeleteStatus"
    op = find_operation("GET", "/contacts/v3/email/jo%40example.com")
    assert op.operation_id == "getContact"
    assert op.path_params == {"identifier": "email", "value": "jo@example.com"}


def test_method_must_be_documented() -> None:
    with pytest.raises(OperationNotInSpec):
        find_operation("POST", "/contacts/v3/import")
    assert not has_operation("GET", "/v2/contacts/suppressed-since/2024-01-01")
    assert has_operation("GET", "/v2/address-books/1/contacts/unsubscribed-since/2024-01-01")


def test_request_body_schema_is_enforced() -> None:
    body = {"channelProperties": {"email": {"emailType": "Html"}}}  # response casing
    with pytest.raises(SpecViolation, match="emailType"):
        validate_request("PATCH", "/contacts/v3/email/jo%40x.com", body)
    validate_request("PATCH", "/contacts/v3/email/jo%40x.com",
                     {"channelProperties": {"email": {"emailType": "html"}}})


def test_query_parameters_are_enforced() -> None:
    with pytest.raises(SpecViolation, match="merge-option"):
        validate_request("PATCH", "/contacts/v3/email/jo%40x.com?merge-option=overwriteIfEmpty",
                         {"dataFields": {}})
    with pytest.raises(SpecViolation, match="minimum of 1"):
        validate_request("GET", "/v2/campaigns?select=1000&skip=0")
    with pytest.raises(SpecViolation, match="not declared"):
        validate_request("GET", "/v2/campaigns?page=2")
    with pytest.raises(SpecViolation, match="~modified"):
        validate_request("GET", "/contacts/v3?~modified=gte::2024-01-01T00:00:00%2B00:00")
    validate_request("GET", "/contacts/v3?~modified=gte::2024-01-01T00:00:00Z&limit=5000"
                     "&include=channelProperties|lists")


def test_missing_and_unexpected_bodies() -> None:
    with pytest.raises(SpecViolation, match="required"):
        validate_request("PUT", "/contacts/v3/import", NO_BODY)
    with pytest.raises(SpecViolation, match="takes no request body"):
        validate_request("GET", "/v2/account-info", {"x": 1})


def test_formats_are_checked() -> None:
    with pytest.raises(SpecViolation) as info:
        validate_request("POST", "/v2/email/triggered-campaign",
                         {"toAddresses": ["not-an-address"], "campaignId": 2**40})
    text = str(info.value)
    assert "int32" in text and "email" in text


def test_quirk_closed_allof_branch_accepts_valid_records_and_rejects_extras() -> None:
    record = {"key": "1", "json": {"a": 1},
              "contactIdentity": {"identifier": "email", "value": "jo@x.com"}}
    body = {"collectionName": "Purchases", "collectionScope": "contact",
            "collectionType": "orders", "records": [record]}
    validate_request("PUT", "/insightData/v3/import", body)
    body["records"] = [{**record, "extra": True}]
    with pytest.raises(SpecViolation, match="extra"):
        validate_request("PUT", "/insightData/v3/import", body)


def test_quirk_nullable_in_openapi_30() -> None:
    body = {"collectionName": "Purchases", "collectionScope": "contact",
            "collectionType": "orders",
            "records": [{"key": "1", "json": {}, "contactIdentity":
                         {"identifier": "email", "value": None}}]}
    validate_request("PUT", "/insightData/v3/import", body)


def test_quirk_string_typed_json_body_accepts_an_object() -> None:
    validate_request("PUT", "/insightData/v3/contacts/email/jo%40x.com/Purchases/o-1", {"a": 1})
    validate_request("PUT", "/insightData/v3/account/Catalogue/sku-1", {"a": 1})


def test_responses() -> None:
    validate_response("POST", "/v2/email/triggered-campaign", 200)
    validate_response("GET", "/insightData/v3/import/x", 200,
                      {"importId": "x", "status": "Finished"})
    validate_response("GET", "/insightData/v3/import/x", 200,
                      {"importId": "x", "status": "Complete"})
    with pytest.raises(SpecViolation, match="Done"):
        validate_response("GET", "/contacts/v3/import/x", 200, {"importId": "x", "status": "Done"})
    with pytest.raises(SpecViolation, match="not declared"):
        validate_response("GET", "/contacts/v3/import/x", 500, {"errorCode": "x"})
    validate_response("GET", "/contacts/v3/import/x", 500, allow_undeclared_status=True)
    with pytest.raises(SpecViolation, match="no body"):
        validate_response("PUT", "/insightData/v3/account/Catalogue/sku-1", 204, {"a": 1})
    with pytest.raises(SpecViolation, match="none given"):
        validate_response("GET", "/contacts/v3/import/x", 200)


def test_quirk_contact_identifier_overlapping_oneof() -> None:
    validate_request("POST", "/contacts/v3/delete",
                     [{"email": "jo@x.com"}, {"mobileNumber": "447700900123"}, {"contactId": 5}])
    with pytest.raises(SpecViolation):
        validate_request("POST", "/contacts/v3/delete", [{"email": 5}])
