"""Client operations: what they send and how they read the answers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest
import respx
from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.dotdigital import (
    DotdigitalClient,
    DotdigitalError,
    TriggeredSend,
    insight_record,
)
from dotsync.dotdigital.client import _iso_z, _v2_date
from tests.dotdigital.fakes import PASSWORD, R2, USER


def sent_json(router: respx.MockRouter, index: int = -1) -> object:
    return json.loads(router.calls[index].request.content)


@pytest.mark.parametrize(("status", "created"), [(201, True), (200, False)])
def test_upsert_contact_reports_created_or_updated(client: DotdigitalClient,
                                                   api: respx.MockRouter, status: int,
                                                   created: bool) -> None:
    route = api.patch("/contacts/v3/email/jo@example.com").respond(
        status, json={"contactId": 42, "identifiers": {"email": "jo@example.com"}})
    contact = {"matchIdentifier": "email", "identifiers": {"email": "jo@example.com"},
               "dataFields": {"FIRSTNAME": "Jo", "LASTNAME": None}}
    result = client.upsert_contact(contact, merge_option="overwriteIfNotEmpty")
    assert (result.created, result.contact_id) == (created, 42)
    request = route.calls.last.request
    assert request.url.params["merge-option"] == "overwrite-if-not-empty"
    body = json.loads(request.content)
    assert "matchIdentifier" not in body
    assert body["dataFields"]["LASTNAME"] is None  # null clears, and is sent as such
    assert contact["matchIdentifier"] == "email"  # the caller's dict is untouched


def test_mobile_only_contact_upserts_by_mobile_number(client: DotdigitalClient,
                                                      api: respx.MockRouter) -> None:
    route = api.patch(url__regex=r"/contacts/v3/mobileNumber/.*").respond(201, json={})
    client.upsert_contact({"identifiers": {"mobileNumber": "+447700900123"}})
    assert route.calls.last.request.url.raw_path.startswith(
        b"/contacts/v3/mobileNumber/%2B447700900123?")


def test_contact_without_identifier_is_refused(client: DotdigitalClient) -> None:
    with pytest.raises(ValueError, match="identifiers"):
        client.upsert_contact({"identifiers": {"email": ""}, "dataFields": {}})
    with pytest.raises(ValueError, match="merge option"):
        client.upsert_contact({"identifiers": {"email": "a@b.co"}}, merge_option="replace")


def test_get_contact_returns_the_contact(client: DotdigitalClient,
                                         api: respx.MockRouter) -> None:
    api.get("/contacts/v3/email/jo@example.com").respond(200, json={"contactId": 3})
    assert client.get_contact("email", "jo@example.com") == {"contactId": 3}


def test_import_returns_the_import_id_and_keeps_order(client: DotdigitalClient,
                                                      api: respx.MockRouter) -> None:
    api.put("/contacts/v3/import").respond(202, json={"importId": "abc"})
    people = [{"identifiers": {"email": f"p{i}@example.com"}} for i in range(5)]
    assert client.import_contacts(people) == "abc"
    body = sent_json(api)
    assert [c["identifiers"]["email"] for c in body["contacts"]] == [
        f"p{i}@example.com" for i in range(5)]
    assert body["mergeOption"] == "overwrite"


def test_accepted_import_without_id_is_an_error(client: DotdigitalClient,
                                                api: respx.MockRouter) -> None:
    api.put("/insightData/v3/import").respond(202, json={})
    with pytest.raises(DotdigitalError, match="importId"):
        client.import_insight_data("Purchases", [insight_record("1", {}, email="a@b.co")])


def test_argument_checks(client: DotdigitalClient) -> None:
    with pytest.raises(ValueError):
        client.import_contacts([])
    with pytest.raises(ValueError):
        client.import_insight_data("Purchases", [])
    with pytest.raises(ValueError, match="contactIdentity"):
        client.import_insight_data("Purchases", [insight_record("1", {})])
    with pytest.raises(ValueError, match="scope"):
        client.import_insight_data("Purchases", [insight_record("1", {})], scope="global")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="5000"):
        client.delete_contacts([{"email": f"{i}@x.com"} for i in range(5001)])
    with pytest.raises(ValueError):
        list(client.contacts_modified_since(date(2024, 1, 1), limit=0))


def test_insight_import_body(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.put("/insightData/v3/import").respond(202, json={"importId": "n-1"})
    records = [insight_record("o-1", {"id": "o-1"}, email="jo@example.com")]
    assert client.import_insight_data("Purchases", records) == "n-1"
    assert sent_json(api) == {
        "collectionName": "Purchases", "collectionScope": "contact", "collectionType": "orders",
        "records": [{"key": "o-1", "json": {"id": "o-1"},
                     "contactIdentity": {"identifier": "email", "value": "jo@example.com"}}],
    }


def test_insight_report_is_typed(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/insightData/v3/import/n-1").respond(200, json={
        "importId": "n-1", "status": "Complete",
        "summary": {"totalRecords": 2, "totalImported": 1, "totalRejected": 1},
        "failures": [{"key": "o-2", "json": {}, "failureReason": "ContactEmailDoesNotExist",
                      "collectionOwner": {"ownerType": "contact", "contactIdentity":
                                          {"identifier": "email", "value": "x@y.com"}}}],
    })
    report = client.get_insight_import("n-1")
    assert report.succeeded and report.done
    assert report.summary == {"totalRecords": 2, "totalImported": 1, "totalRejected": 1}
    failure = report.failures[0]
    assert (failure.key, failure.failure_reason) == ("o-2", "ContactEmailDoesNotExist")
    assert failure.contact_identity["value"] == "x@y.com"


def test_single_insight_upsert_sends_the_record_json(client: DotdigitalClient,
                                                      api: respx.MockRouter) -> None:
    route = api.put("/insightData/v3/contacts/email/jo@example.com/Purchases/o-1").respond(204)
    client.upsert_contact_insight("Purchases", "o-1", {"id": "o-1", "order_total": 5.0},
                                  "jo@example.com")
    assert json.loads(route.calls.last.request.content) == {"id": "o-1", "order_total": 5.0}


def test_triggered_send_body(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.post("/v2/email/triggered-campaign").respond(200)
    client.send_triggered_campaign(77, "jo@example.com",
                                   {"CERTIFICATE_CODE": "X1", "CERTIFICATE_AMOUNT": "10.00"})
    assert sent_json(api) == {
        "toAddresses": ["jo@example.com"], "campaignId": 77,
        "personalizationValues": [{"name": "CERTIFICATE_CODE", "value": "X1"},
                                  {"name": "CERTIFICATE_AMOUNT", "value": "10.00"}],
    }


def test_batch_send_results_by_index(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.post("/v2/email/triggered-campaign/batch").respond(200, json=[
        {"index": 1, "failureCode": "ERROR_CONTACT_SUPPRESSED", "failureReason": "suppressed"},
        {"index": 0},
    ])
    sends = [TriggeredSend(1, f"p{i}@example.com", {"N": str(i)}) for i in range(3)]
    results = client.send_triggered_campaign_batch(sends)
    assert [(r.index, r.ok, r.failure_code) for r in results] == [
        (0, True, None), (1, False, "ERROR_CONTACT_SUPPRESSED"), (2, True, None)]
    assert len(sent_json(api)) == 3  # type: ignore[arg-type]
    assert client.send_triggered_campaign_batch([]) == []


def test_list_campaigns_pages_until_a_short_page(client: DotdigitalClient,
                                                 api: respx.MockRouter) -> None:
    def page(start: int, size: int) -> httpx.Response:
        return httpx.Response(200, json=[{"id": start + i, "name": f"c{start + i}",
                                          "status": "Sent"} for i in range(size)])

    route = api.get("/v2/campaigns").mock(side_effect=[page(0, 1000), page(1000, 1000),
                                                        page(2000, 3)])
    campaigns = client.list_campaigns()
    assert [c.id for c in campaigns] == list(range(2003))
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"select": "1000"}, {"select": "1000", "skip": "1000"},
        {"select": "1000", "skip": "2000"}]


def test_list_campaigns_exact_multiple_needs_one_empty_page(client: DotdigitalClient,
                                                            api: respx.MockRouter) -> None:
    route = api.get("/v2/campaigns").mock(side_effect=[
        httpx.Response(200, json=[{"id": 1, "name": "a"}]), httpx.Response(200, json=[])])
    assert len(client.list_campaigns(page_size=1)) == 1
    assert route.call_count == 2


def test_get_campaign(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/v2/campaigns/12").respond(200, json={
        "id": 12, "name": "Gift", "status": "Triggered", "subject": "For you",
        "fromName": "Shop", "fromAddress": {"id": 1, "email": "shop@example.com"},
        "isSplitTest": False})
    campaign = client.get_campaign(12)
    assert (campaign.id, campaign.name, campaign.status, campaign.from_address) == (
        12, "Gift", "Triggered", "shop@example.com")


def test_suppressions_are_parsed_and_paged(client: DotdigitalClient,
                                           api: respx.MockRouter) -> None:
    item = {"suppressedContact": {"id": 5, "email": "jo@example.com", "status": "Suppressed"},
            "dateRemoved": "2024-05-02T09:40:18.5270000Z", "reason": "HardBounce"}
    route = api.get("/v2/contacts/suppressed-since/2024-05-01").mock(side_effect=[
        httpx.Response(200, json=[item, item]), httpx.Response(200, json=[item])])
    result = client.suppressed_since(datetime(2024, 5, 1, 23, 0, tzinfo=UTC), page_size=2)
    assert len(result) == 3 and route.call_count == 2
    first = result[0]
    assert (first.email, first.reason, first.contact_id) == ("jo@example.com", "HardBounce", 5)
    assert first.date_removed == datetime(2024, 5, 2, 9, 40, 18, 527000, tzinfo=UTC)


def test_unsubscribed_since(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/v2/contacts/unsubscribed-since/2024-05-01").respond(200, json=[])
    assert client.unsubscribed_since(date(2024, 5, 1)) == []


def test_contacts_modified_since_follows_markers(client: DotdigitalClient,
                                                 api: respx.MockRouter) -> None:
    def page(ids: list[int], marker: str | None) -> httpx.Response:
        links: dict[str, object] = {"self": {"link": "x", "marker": "s"},
                                    "first": {"link": "x", "marker": "f"}}
        if marker:
            links["next"] = {"link": "x", "marker": marker}
        return httpx.Response(200, json={"_items": [{"contactId": i} for i in ids],
                                         "_links": links})

    route = api.get("/contacts/v3").mock(side_effect=[page([1, 2], "m1"), page([3], "m2"),
                                                       page([], None)])
    since = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    contacts = client.contacts_modified_since(since, limit=2)
    assert route.call_count == 0  # lazy
    assert [c["contactId"] for c in contacts] == [1, 2, 3]
    params = [dict(c.request.url.params) for c in route.calls]
    assert params[0] == {"~modified": "gte::2024-05-01T12:00:00Z", "limit": "2",
                         "include": "channelProperties"}
    assert params[1]["marker"] == "m1" and params[2]["marker"] == "m2"


def test_date_formats() -> None:
    assert _iso_z(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"  # naive = UTC
    assert _iso_z(datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == \
        "2024-01-02T03:04:05.678Z"
    assert _iso_z(date(2024, 1, 2)) == "2024-01-02T00:00:00Z"
    assert _v2_date(datetime(2024, 1, 2, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == \
        "2024-01-01"
    assert _v2_date(date(2024, 1, 2)) == "2024-01-02"


def test_account_info_after_discovery_asks_the_region(clock) -> None:  # type: ignore[no-untyped-def]
    from tests.dotdigital.fakes import R1, make_client

    client = make_client(clock, endpoint=None)
    discovered = {"id": 1, "properties": [{"name": "ApiEndpoint", "value": R2 + "/"}]}
    with respx.mock() as router:
        r1 = router.get(f"{R1}/v2/account-info").respond(200, json=discovered)
        r2 = router.get(f"{R2}/v2/account-info").respond(
            200, json={"id": 1, "properties": [{"name": "ApiCallsRemaining", "value": "5"}]})
        assert client.account_info().api_endpoint == R2
        assert client.account_info().api_calls_remaining == 5
    assert (r1.call_count, r2.call_count) == (1, 1)


def test_from_settings_and_defaults() -> None:
    settings = Settings(api_user=USER, api_password=SecretStr(PASSWORD))
    with DotdigitalClient.from_settings(settings, timeout=30.0) as client:
        assert client.endpoint is None
        assert client._http.timeout.read == 30.0
    with DotdigitalClient(USER, PASSWORD, endpoint=R2) as client:
        assert client._http.timeout.read == 121.0
        assert client._http.follow_redirects is False
        assert client.max_retries == 5
