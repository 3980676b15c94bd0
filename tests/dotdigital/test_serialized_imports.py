"""Imports built from pre-serialised records are byte-for-byte the ordinary bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=40),
       max_bytes=st.integers(120, 2_000), on_disk=st.booleans())
def test_chunk_bodies_split_exactly_like_the_plain_chunks(sizes, max_bytes, on_disk):
    from dotsync.dotdigital.bulk import chunk_by_size
    from dotsync.dotdigital.client import SerializedChunk
    from dotsync.dotdigital.wire import FileBody

    records = [{"key": f"K{i}", "pad": "x" * n} for i, n in enumerate(sizes)]
    envelope = {"collectionName": "Purchases"}
    rejected_plain: list[Any] = []
    rejected_raw: list[Any] = []
    plain = list(chunk_by_size(records, envelope=envelope, list_field="records",
                               max_bytes=max_bytes,
                               on_oversize=lambda r, n: rejected_plain.append((r, n))))
    raw = list(chunk_by_size(records, envelope=envelope, list_field="records",
                             max_bytes=max_bytes, serialized=True, on_disk=on_disk,
                             on_oversize=lambda r, n: rejected_raw.append((r, n))))
    assert rejected_plain == rejected_raw
    assert all(isinstance(c, SerializedChunk) for c in raw)
    assert all(isinstance(c.body, FileBody) == on_disk for c in raw)  # built in a file
    assert [len(c) for c in plain] == [len(c) for c in raw]
    for p, r in zip(plain, raw, strict=True):
        # The exact body, within the cap.
        assert bytes(r.body) == dumps({**envelope, "records": p})
        assert len(r.body) <= max_bytes
        assert [bytes(x) for x in r] == [dumps(x) for x in p]
        assert [bytes(x) for x in r[::-1]] == [dumps(x) for x in p[::-1]]


@respx.mock
def test_a_chunk_built_for_another_envelope_is_spliced_into_the_right_one():
    route = respx.put(f"{BASE}/contacts/v3/import").mock(
        return_value=httpx.Response(202, json={"importId": "a"}))
    client = DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=BASE)
    (chunk,) = list(chunk_contacts(CONTACTS, merge_option="overwrite", serialized=True))
    client.import_contacts(chunk, merge_option="overwrite-if-empty")
    sent = json.loads(route.calls[0].request.content)
    assert sent == build_contact_import_body(
        [dict(c, matchIdentifier="email") for c in CONTACTS], "overwrite-if-empty")


BIG = [{"identifiers": {"email": f"big{i}@example.com"},
        "dataFields": {"FIRSTNAME": "Zoë ☃", "NOTES": "x" * 200 + str(i)}} for i in range(9_000)]


@respx.mock
def test_a_body_over_a_mebibyte_is_sent_whole_with_its_length_and_again_on_a_retry():
    from dotsync.dotdigital.client import BODY_PART_BYTES

    route = respx.put(f"{BASE}/contacts/v3/import").mock(side_effect=[
        httpx.ConnectError("refused"),  # nothing was sent: the submission is tried again
        httpx.Response(202, json={"importId": "a"}),
    ])
    client = DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=BASE,
                              backoff_base=0.001, backoff_max=0.002)
    (chunk,) = list(chunk_contacts(BIG, serialized=True))
    assert len(chunk.body) > 2 * BODY_PART_BYTES
    assert client.import_contacts(chunk) == "a"
    assert route.call_count == 2
    for call in route.calls:
        assert call.request.content == bytes(chunk.body)
        assert call.request.headers["content-length"] == str(len(chunk.body))
        assert "transfer-encoding" not in call.request.headers
    assert json.loads(route.calls[1].request.content)["contacts"][8_999]["identifiers"] == {
        "email": "big8999@example.com"}


def test_a_body_over_a_mebibyte_reaches_a_real_server_intact():
    from dotsync.dotdigital import wait_for_import
    from dotsync.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(import_delay=0.01)) as server, DotdigitalClient(
            server.config.user, server.config.password, endpoint=server.url) as client:
        server.state.add_data_field("NOTES")  # not one of a new account's data fields
        (chunk,) = list(chunk_contacts(BIG, serialized=True))
        report = wait_for_import(client, client.import_contacts(chunk), poll_interval=0.02,
                                 min_poll=0.01, max_poll=0.05, timeout=60)
        assert report.status == "Finished"
        assert report.summary["newContacts"] == 9_000
        assert server.state.contact("big8999@example.com") is not None


@respx.mock
def test_a_sent_chunk_lets_its_body_go_and_keeps_its_count():
    """Once an import is accepted its body is no longer needed (the records' count is
    what settling it reads): ``release`` drops the bytes; a body not yet sent stays."""
    respx.put(f"{BASE}/insightData/v3/import").mock(
        return_value=httpx.Response(202, json={"importId": "i"}))
    chunk, = chunk_insight_records("Purchases", RECORDS, max_bytes=1_000_000, serialized=True)
    first = bytes(chunk[0])
    client = DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=BASE)
    assert client.import_insight_data("Purchases", chunk) == "i"
    client.close()
    assert len(chunk.body) > 0 and bytes(chunk[0]) == first
    chunk.release()
    assert len(chunk.body) == 0
    assert len(chunk) == len(RECORDS)


@respx.mock
def test_a_chunk_built_on_disk_sends_the_same_body_from_its_file_and_again_on_a_retry():
    """A body built ahead waits on disk: the same records, read back one by one, and the
    same bytes on the wire (a retried call reads the file again)."""
    from dotsync.dotdigital.bulk import chunk_by_size
    from dotsync.dotdigital.wire import FileBody, contact_for_import

    envelope = {k: v for k, v in build_contact_import_body([]).items() if k != "contacts"}
    route = respx.put(f"{BASE}/contacts/v3/import").mock(side_effect=[
        httpx.ConnectError("refused"), httpx.Response(202, json={"importId": "a"})])
    client = DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=BASE,
                              backoff_base=0.001, backoff_max=0.002)
    (chunk,) = list(chunk_contacts(BIG, serialized=True))
    (on_disk,) = list(chunk_by_size(
        (contact_for_import(c) for c in BIG), envelope=envelope,
        list_field="contacts", serialized=True, on_disk=True))
    body = bytes(chunk.body)
    assert isinstance(on_disk.body, FileBody) and len(on_disk) == len(chunk) == 9_000
    assert [bytes(on_disk[i]) for i in (0, 4_500, -1)] == [
        bytes(chunk[i]) for i in (0, 4_500, -1)]
    assert client.import_contacts(on_disk) == "a"
    assert [call.request.content for call in route.calls] == [body, body]
    on_disk.body.close()
