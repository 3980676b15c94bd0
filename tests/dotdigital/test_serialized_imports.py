"""Imports built from pre-serialised records are byte-for-byte the ordinary bodies."""

from __future__ import annotations

import httpx
import respx

from dotsync.dotdigital import DotdigitalClient
from dotsync.dotdigital.bulk import chunk_contacts, chunk_insight_records
from dotsync.dotdigital.client import build_contact_import_body, build_insight_import_body, dumps
from tests.contract.spec import validate_request

BASE = "https://r1-api.dotdigital.com"
CONTACTS = [
    {"identifiers": {"email": f"c{i}@example.com", "mobileNumber": f"44791112{i:04d}"},
     "dataFields": {"FIRSTNAME": "Zoë ☃"}} for i in range(40)
]
RECORDS = [
    {"contactIdentity": {"identifier": "email", "value": f"c{i}@example.com"},
     "key": f"O{i}", "json": {"id": f"O{i}", "order_total": 1.5, "products": []}}
    for i in range(40)
]


def test_serialised_chunks_hold_the_same_records_in_the_same_order():
    plain = list(chunk_contacts(CONTACTS, max_bytes=2_000))
    raw = list(chunk_contacts(CONTACTS, max_bytes=2_000, serialized=True))
    assert [len(c) for c in plain] == [len(c) for c in raw]
    assert [dumps(r) for c in plain for r in c] == [bytes(r) for c in raw for r in c]


@respx.mock
def test_the_bodies_sent_are_identical_and_valid():
    route_c = respx.put(f"{BASE}/contacts/v3/import").mock(
        return_value=httpx.Response(202, json={"importId": "a"}))
    route_i = respx.put(f"{BASE}/insightData/v3/import").mock(
        return_value=httpx.Response(202, json={"importId": "b"}))
    client = DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=BASE)
    (contacts,) = list(chunk_contacts(CONTACTS, serialized=True))
    (records,) = list(chunk_insight_records("Purchases", RECORDS, serialized=True))
    client.import_contacts(contacts)
    client.import_insight_data("Purchases", records)
    contact_body = route_c.calls[0].request.content
    insight_body = route_i.calls[0].request.content
    assert contact_body == dumps(build_contact_import_body(
        [dict(c, matchIdentifier="email") for c in CONTACTS]))
    assert insight_body == dumps(build_insight_import_body("Purchases", RECORDS))
    import json

    validate_request("PUT", f"{BASE}/contacts/v3/import", json.loads(contact_body))
    validate_request("PUT", f"{BASE}/insightData/v3/import", json.loads(insight_body))


def test_too_many_active_imports_is_raised_at_once_for_the_caller_to_pace():
    """No reset time comes with it: the caller knows its own imports in flight."""
    import time

    from dotsync.dotdigital import RateLimitedError
    from dotsync.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(import_delay=5, max_contact_imports=1)) as server:
        client = DotdigitalClient(server.config.user, server.config.password,
                                  endpoint=server.url)
        client.import_contacts([{"identifiers": {"email": "a@example.com"}}])
        started = time.monotonic()
        try:
            client.import_contacts([{"identifiers": {"email": "b@example.com"}}])
        except RateLimitedError as exc:
            assert exc.error_code == "contacts:tooManyActiveImports"
        else:
            raise AssertionError("a second active import was accepted")
        assert time.monotonic() - started < 5  # not the 30 s default wait
        client.close()
