"""The read-backs reconciliation uses match Dotdigital's published specs (getContacts,
getAllContactsInsightData, getContactInsightDataRecord, getContact), page by page, with
the budget hook called before every call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from dotsync.dotdigital import DotdigitalClient
from tests.contract.test_client_requests import CONTACT, check_all

RECORD = {"key": "o1", "json": {"id": "o1", "order_total": 12.5},
          "created": "2024-05-01T10:00:00Z", "updated": "2024-05-02T10:00:00Z",
          "ownerContactId": 7}


def _page(path: str, items: list[dict[str, Any]], marker: str | None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"link": path, "marker": "s"},
                             "first": {"link": path, "marker": "f"}}
    if marker:
        links["next"] = {"link": f"{path}?marker={marker}", "marker": marker}
    return {"_items": items, "_links": links}


def test_insight_pages_one_call_per_page(client: DotdigitalClient, api: respx.MockRouter) -> None:
    path = "/insightData/v3/contacts/Purchases"
    route = api.get(path).mock(side_effect=[
        httpx.Response(200, json=_page(path, [RECORD], "m2")),
        httpx.Response(200, json=_page(path, [RECORD], None)),
    ])
    before: list[int] = []
    since = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    pages = list(client.insight_pages("Purchases", since, limit=1,
                                      before_call=lambda: before.append(1)))
    assert [len(p) for p in pages] == [1, 1] and len(before) == 2
    assert route.calls[0].request.url.params["~modified"] == "gte::2024-05-01T12:00:00Z"
    assert route.calls[1].request.url.params["marker"] == "m2"
    assert check_all(api) == ["getAllContactsInsightData"] * 2


def test_contact_pages_ask_for_every_data_field(client: DotdigitalClient,
                                                api: respx.MockRouter) -> None:
    route = api.get("/contacts/v3").respond(200, json=_page("/contacts/v3", [CONTACT], None))
    assert list(client.contact_pages(None, limit=5000)) == [[CONTACT]]
    params = route.calls[0].request.url.params
    assert params["data-fields"] == "[[ALL]]" and "~modified" not in params
    assert check_all(api) == ["getContacts"]


def test_single_reads_say_none_when_absent(client: DotdigitalClient,
                                           api: respx.MockRouter) -> None:
    api.get("/insightData/v3/contacts/email/jo@example.com/Purchases/o1").respond(
        200, json=RECORD)
    api.get("/insightData/v3/contacts/email/jo@example.com/Purchases/o2").respond(
        404, json={"errorCode": "insightData:recordNotFound",
                   "description": "The Insight data record could not be found"})
    api.get("/contacts/v3/email/al@example.com").respond(
        404, json={"errorCode": "contacts:contactNotFound",
                   "description": "The contact could not be found"})
    assert client.get_contact_insight("Purchases", "jo@example.com", "o1")["key"] == "o1"
    assert client.get_contact_insight("Purchases", "jo@example.com", "o2") is None
    assert client.find_contact("email", "al@example.com") is None
    assert check_all(api) == ["getContactInsightDataRecord"] * 2 + ["getContact"]
