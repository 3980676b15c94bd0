"""Chunking imports by serialised size, and waiting for imports on a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.dotdigital import (
    DotdigitalClient,
    DotdigitalError,
    ImportWaitTimeout,
    NotFoundError,
    RecordTooLargeError,
    chunk_by_size,
    chunk_contacts,
    chunk_insight_records,
    dumps,
    insight_record,
    wait_for_import,
)
from dotsync.dotdigital.client import build_contact_import_body, build_insight_import_body
from tests.dotdigital.fakes import FakeClock

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12,
)
insight_records = st.lists(
    st.builds(
        lambda i, payload, email: insight_record(f"order-{i}", {"payload": payload},
                                                 email=email),
        st.integers(0, 10**6), json_values, st.emails(),
    ),
    max_size=40,
)
contacts = st.lists(
    st.builds(
        lambda email, name, extra: {"identifiers": {"email": email},
                                    "dataFields": {"FIRSTNAME": name, "NOTES": extra}},
        st.emails(), st.text(max_size=50), st.text(max_size=400),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(records=insight_records, max_bytes=st.integers(1_200, 6_000))
def test_insight_chunks_partition_in_order_and_fit(records: list[dict[str, Any]],
                                                   max_bytes: int) -> None:
    try:
        chunks = list(chunk_insight_records("Purchases", records, max_bytes=max_bytes))
    except RecordTooLargeError as exc:
        oversized = next(r for r in records
                         if len(dumps(build_insight_import_body("Purchases", [r]))) > max_bytes)
        assert exc.key == repr(oversized["key"])
        return
    assert [r for chunk in chunks for r in chunk] == records
    assert all(chunks)
    for chunk in chunks:
        assert len(dumps(build_insight_import_body("Purchases", chunk))) <= max_bytes
    # Greedy: no chunk could have taken the next chunk's first record.
    for current, following in itertools.pairwise(chunks):
        grown = build_insight_import_body("Purchases", [*current, following[0]])
        assert len(dumps(grown)) > max_bytes


@settings(max_examples=100, deadline=None)
@given(people=contacts, max_bytes=st.integers(1_500, 8_000))
def test_contact_chunks_partition_in_order_and_fit(people: list[dict[str, Any]],
                                                   max_bytes: int) -> None:
    chunks = list(chunk_contacts(people, "overwrite-if-empty", max_bytes=max_bytes))
    flattened = [c for chunk in chunks for c in chunk]
    assert [c["identifiers"] for c in flattened] == [p["identifiers"] for p in people]
    assert all(c["matchIdentifier"] == "email" for c in flattened)
    for chunk in chunks:
        body = build_contact_import_body(chunk, "overwrite-if-empty")
        assert len(dumps(body)) <= max_bytes


def test_size_is_exact_at_the_boundary() -> None:
    records = [{"key": str(i), "json": {"x": "y" * 10}} for i in range(10)]
    body = dumps(build_insight_import_body("C1", records, scope="account"))
    exact = list(chunk_insight_records("C1", records, scope="account", max_bytes=len(body)))
    assert exact == [records]
    one_less = list(chunk_insight_records("C1", records, scope="account",
                                          max_bytes=len(body) - 1))
    assert len(one_less) == 2


def test_chunks_are_cut_by_bytes_not_count() -> None:
    small = [{"key": str(i), "json": {}} for i in range(5000)]
    big = [{"key": str(i), "json": {"blob": "x" * 50_000}} for i in range(50)]
    assert len(list(chunk_insight_records("C1", small, scope="account"))) == 1
    assert len(list(chunk_insight_records("C1", big, scope="account",
                                          max_bytes=1_000_000))) == 3


def test_a_record_larger_than_the_cap_is_named() -> None:
    records = [
        insight_record("ok-1", {"a": 1}, email="jo@example.com"),
        insight_record("order-huge", {"blob": "x" * 5000}, email="jo@example.com"),
    ]
    with pytest.raises(RecordTooLargeError) as info:
        list(chunk_insight_records("Purchases", records, max_bytes=2000))
    assert "order-huge" in str(info.value)
    assert info.value.key == "'order-huge'"
    assert info.value.size > 5000


def test_an_oversized_contact_is_named_by_masked_email() -> None:
    people = [{"identifiers": {"email": "jo@example.com"}, "dataFields": {"X": "y" * 3000}}]
    with pytest.raises(RecordTooLargeError) as info:
        list(chunk_contacts(people, max_bytes=1000))
    assert "j***@example.com" in str(info.value)
    assert "jo@example.com" not in str(info.value)


def test_generic_chunker_and_empty_input() -> None:
    assert list(chunk_by_size([], envelope={}, list_field="items")) == []
    chunks = list(chunk_by_size(["aaaa", "bbbb", "cccc"], envelope={}, list_field="items",
                                max_bytes=len(dumps({"items": ["aaaa", "bbbb"]}))))
    assert chunks == [["aaaa", "bbbb"], ["cccc"]]
    with pytest.raises(ValueError):
        list(chunk_by_size(["a"], envelope={"k": "v" * 100}, list_field="items", max_bytes=50))


def test_chunking_is_lazy() -> None:
    def endless():
        i = 0
        while True:
            yield {"key": str(i), "json": {}}
            i += 1

    first = next(iter(chunk_insight_records("C1", endless(), scope="account",
                                            max_bytes=2_000)))
    assert 0 < len(first) < 200


# ---------------------------------------------------------------- waiting for imports
def _contact_status(status: str) -> httpx.Response:
    return httpx.Response(200, json={"importId": "i-1", "status": status})


def test_poll_cadence_is_clamped_to_5_to_30_seconds_by_default(
    client: DotdigitalClient, api: respx.MockRouter, clock: FakeClock
) -> None:
    api.get("/contacts/v3/import/i-1").mock(side_effect=[
        *[_contact_status("NotFinished")] * 8, _contact_status("Finished")])
    report = wait_for_import(client, "i-1", poll_interval=0.01)
    assert report.status == "Finished" and report.succeeded
    assert clock.sleeps[0] == 5  # 0.01 s was asked for: clamped up
    assert max(clock.sleeps) == 30  # growth is clamped down
    assert all(5 <= s <= 30 for s in clock.sleeps)
    assert clock.sleeps == sorted(clock.sleeps)
    assert len(clock.sleeps) == 9


def test_poll_cadence_can_be_milliseconds_for_tests(
    client: DotdigitalClient, api: respx.MockRouter, clock: FakeClock
) -> None:
    api.get("/contacts/v3/import/i-1").mock(side_effect=[
        _contact_status("NotFinished"), _contact_status("NotFinished"),
        _contact_status("Finished")])
    wait_for_import(client, "i-1", poll_interval=0.01, min_poll=0.001, max_poll=0.02)
    assert clock.sleeps == pytest.approx([0.01, 0.015, 0.02])


@pytest.mark.parametrize("status", ["Finished", "Failed", "RejectedByWatchdog",
                                    "ExceedsAllowedContactLimit"])
def test_contact_terminal_statuses(client: DotdigitalClient, api: respx.MockRouter,
                                   status: str) -> None:
    route = api.get("/contacts/v3/import/i-1").mock(side_effect=[
        _contact_status("NotFinished"), _contact_status(status)])
    report = wait_for_import(client, "i-1", kind="contacts")
    assert report.status == status and report.done
    assert report.succeeded is (status == "Finished")
    assert route.call_count == 2


@pytest.mark.parametrize(("status", "succeeded"), [("Finished", True), ("Complete", True),
                                                   ("Failed", False)])
def test_insight_terminal_statuses(client: DotdigitalClient, api: respx.MockRouter,
                                   status: str, succeeded: bool) -> None:
    route = api.get("/insightData/v3/import/n-1").mock(side_effect=[
        httpx.Response(200, json={"importId": "n-1", "status": "NotStarted"}),
        httpx.Response(200, json={"importId": "n-1", "status": "Processing"}),
        httpx.Response(200, json={"importId": "n-1", "status": "NotFinished"}),
        httpx.Response(200, json={"importId": "n-1", "status": status}),
    ])
    report = wait_for_import(client, "n-1", kind="insight")
    assert report.status == status and report.succeeded is succeeded
    assert route.call_count == 4


def test_wait_times_out_with_the_last_status(client: DotdigitalClient, api: respx.MockRouter,
                                             clock: FakeClock) -> None:
    api.get("/contacts/v3/import/i-1").mock(return_value=_contact_status("NotFinished"))
    with pytest.raises(ImportWaitTimeout) as info:
        wait_for_import(client, "i-1", timeout=100)
    assert info.value.last_status == "NotFinished"
    assert info.value.import_id == "i-1"
    assert clock.slept == pytest.approx(100)


def test_transient_poll_failures_do_not_end_the_wait(clock: FakeClock) -> None:
    from tests.dotdigital.fakes import R2, make_client

    client = make_client(clock, max_retries=0)
    with respx.mock(base_url=R2) as api:
        api.get("/contacts/v3/import/i-1").mock(side_effect=[
            httpx.Response(503), httpx.ReadError("reset"), _contact_status("Finished")])
        assert wait_for_import(client, "i-1").status == "Finished"


def test_non_transient_poll_failure_is_raised(client: DotdigitalClient,
                                              api: respx.MockRouter) -> None:
    api.get("/contacts/v3/import/i-1").respond(
        404, json={"errorCode": "contacts:importNotFound", "description": "no"})
    with pytest.raises(NotFoundError):
        wait_for_import(client, "i-1")


def test_import_report_is_typed(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/contacts/v3/import/i-1").respond(200, json={
        "importId": "i-1", "status": "Finished",
        "summary": {"newContacts": 1, "updatedContacts": 1, "invalidEntries": 1},
        "created": [{"contactId": 1, "identifiers": {"email": "a@x.com"}}],
        "updated": [{"contactId": 2, "identifiers": {"email": "b@x.com"}}],
        "failures": [{"matchIdentifier": "email", "identifiers": {"email": "bad"},
                      "failures": [{"failureCode": "InvalidEmail", "description": "bad"},
                                   {"failureCode": "NoValidIdentifiers", "description": "-"}]}],
    })
    report = client.get_contact_import("i-1")
    assert report.summary["newContacts"] == 1
    assert [c.contact_id for c in report.created] == [1]
    assert report.updated[0].identifiers == {"email": "b@x.com"}
    assert report.failures[0].failure_codes == ("InvalidEmail", "NoValidIdentifiers")


REPORT = {
    "importId": "i-1", "status": "Finished",
    "summary": {"newContacts": 2, "updatedContacts": 1, "invalidEntries": 1},
    "created": [{"contactId": i, "identifiers": {"email": f"c{i}@x.com"}} for i in range(2)],
    "updated": [{"contactId": 9, "identifiers": {"email": "u@x.com"}}],
    "failures": [{"matchIdentifier": "email", "identifiers": {"email": "bad"},
                  "failures": [{"failureCode": "InvalidEmail", "description": "bad"}]}],
}


def test_a_report_without_its_contact_lists_keeps_everything_else(
        client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/contacts/v3/import/i-1").respond(200, json=REPORT)
    full = client.get_contact_import("i-1")
    lean = client.get_contact_import("i-1", contacts=False)
    assert len(full.created) == 2 and len(full.updated) == 1
    assert lean.created == () and lean.updated == ()
    assert (lean.import_id, lean.status, lean.summary, lean.failures) == (
        full.import_id, full.status, full.summary, full.failures)


@pytest.mark.parametrize(("body", "status"), [
    (b"[]", ""), (b'{"status": "NotFinished"}', "NotFinished"), (b'"Finished"', ""),
])
def test_a_lean_report_of_an_odd_shape_is_read_leniently(
        client: DotdigitalClient, api: respx.MockRouter, body: bytes, status: str) -> None:
    api.get("/contacts/v3/import/i-1").respond(200, content=body)
    report = client.get_contact_import("i-1", contacts=False)
    assert report.status == status and report.failures == ()


def test_a_lean_report_that_is_not_json_is_a_clear_error(
        client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/contacts/v3/import/i-1").respond(200, content=b'{"status": "Fini')
    with pytest.raises(DotdigitalError, match="not JSON"):
        client.get_contact_import("i-1", contacts=False)
