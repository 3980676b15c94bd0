"""Reading a contact-scoped collection back: ``GET /insightData/v3/contacts/{collectionName}``.

Source: dotdigital-insight-data-service.json, operation ``getAllContactsInsightData``:
records of every contact, ascending, filtered by ``~modified=gte::<ISO 8601>``, paged by
``limit`` (1 to 5000) and ``marker``; ``insightData:collectionNotFound`` (404) for a
collection that does not exist. Each item is a ``returnedInsightRecord`` (``key``,
``json``, ``created``, ``updated``, ``ownerContactId``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

JO = "jo@example.com"
AL = "al@example.com"


@pytest.fixture
def filled(api) -> None:
    api.post("/insightData/v3/collections/Purchases",
             params={"collectionScope": "contact", "collectionType": "orders"})
    for email in (JO, AL):
        api.patch(f"/contacts/v3/email/{email}", json={})
    for i in range(7):
        r = api.put(f"/insightData/v3/contacts/email/{JO if i % 2 else AL}/Purchases/o{i}",
                    json={"id": f"o{i}", "order_total": float(i)})
        assert r.status_code == 201


def _all(api, **params) -> list[dict]:
    items, marker = [], None
    while True:
        q = dict(params)
        if marker:
            q["marker"] = marker
        r = api.get("/insightData/v3/contacts/Purchases", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["_items"]
        marker = (body["_links"].get("next") or {}).get("marker")
        if not marker:
            return items


def test_pages_return_every_record_once_in_ascending_order(api, filled) -> None:
    items = _all(api, limit=3)
    assert sorted(i["key"] for i in items) == [f"o{i}" for i in range(7)]
    assert len(items) == 7
    owners = [i["ownerContactId"] for i in items]
    assert owners == sorted(owners)
    assert all({"key", "json", "created", "updated"} <= set(i) for i in items)
    assert {i["key"]: i["json"]["order_total"] for i in items}["o5"] == 5.0


def test_modified_filter_keeps_records_changed_since(api, emulator, filled) -> None:
    time.sleep(0.01)  # timestamps have millisecond resolution: the change must be later
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(0.01)
    assert emulator.state.alter_insight("Purchases", "o3", {"order_total": 99.0})
    items = _all(api, **{"~modified": f"gte::{since}"})
    assert [(i["key"], i["json"]["order_total"]) for i in items] == [("o3", 99.0)]


def test_deleted_records_are_gone_from_the_listing_and_the_count(api, emulator, filled) -> None:
    assert emulator.state.delete_insight("Purchases", "o2")
    assert "o2" not in {i["key"] for i in _all(api)}
    counts = {c["collectionName"]: c["recordCount"]
              for c in api.get("/insightData/v3/collections").json()}
    assert counts["Purchases"] == 6


def test_unknown_collection_bad_filter_and_bad_limit(api, filled) -> None:
    r = api.get("/insightData/v3/contacts/Nothing")
    assert r.status_code == 404
    assert r.json()["errorCode"] == "insightData:collectionNotFound"
    r = api.get("/insightData/v3/contacts/Purchases", params={"~modified": "yesterday"})
    assert r.status_code == 400
    r = api.get("/insightData/v3/contacts/Purchases", params={"limit": 0})
    assert r.status_code == 400
    r = api.get("/insightData/v3/contacts/Purchases", params={"marker": "not-a-marker"})
    assert r.status_code == 400
