"""dotsync's own DotdigitalClient against the emulator, one operation at a time.

These prove the two halves agree: what the client sends the emulator accepts, and what the
emulator answers the client understands, including failures, limits and injected faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dotsync.dotdigital import (
    AuthenticationError,
    ConflictError,
    DotdigitalClient,
    NotFoundError,
    RateLimitedError,
    SendOutcomeUnknown,
    ValidationError,
    insight_record,
    wait_for_import,
)
from dotsync.dotdigital.models import TriggeredSend
from dotsync.emulator import DEFAULT_PASSWORD, DEFAULT_USER, EmulatorConfig, EmulatorServer

FAST_POLL = {"poll_interval": 0.02, "min_poll": 0.0, "max_poll": 0.05, "timeout": 10}


def _client(server: EmulatorServer, **kwargs) -> DotdigitalClient:
    kwargs.setdefault("endpoint", server.url)
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_max", 0.02)
    kwargs.setdefault("timeout", 10)
    return DotdigitalClient(DEFAULT_USER, DEFAULT_PASSWORD, **kwargs)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.05)) as emulator:
        yield emulator


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[DotdigitalClient]:
    c = _client(server)
    yield c
    c.close()


def _contact(email: str, **fields) -> dict:
    return {"identifiers": {"email": email}, "dataFields": fields}


def test_region_discovery_uses_the_emulators_endpoint(server) -> None:
    c = _client(server, endpoint=None, discovery_url=server.url)
    try:
        info = c.account_info()
        assert info.api_endpoint.rstrip("/") == server.url
        assert c.list_campaigns()  # later calls go to the discovered endpoint
    finally:
        c.close()


def test_wrong_password_is_an_authentication_error(server) -> None:
    c = DotdigitalClient(DEFAULT_USER, "wrong", endpoint=server.url, timeout=5)
    with c, pytest.raises(AuthenticationError):
        c.account_info()


def test_upsert_get_delete(client, server) -> None:
    first = client.upsert_contact(_contact("jo@example.com", FIRSTNAME="Jo"))
    assert first.created and first.contact_id
    again = client.upsert_contact(_contact("jo@example.com", LASTNAME="B"))
    assert not again.created and again.contact_id == first.contact_id
    got = client.get_contact("email", "jo@example.com")
    assert got["dataFields"] == {"FIRSTNAME": "Jo", "LASTNAME": "B"}
    client.delete_contact("email", "jo@example.com")
    with pytest.raises(NotFoundError):
        client.get_contact("email", "jo@example.com")
    client.delete_contact("email", "jo@example.com", missing_ok=True)


def test_upsert_conflict_and_validation(client) -> None:
    client.upsert_contact({"identifiers": {"email": "a@example.com",
                                           "mobileNumber": "447123123123"}})
    with pytest.raises(ConflictError):
        client.upsert_contact({"identifiers": {"email": "b@example.com",
                                               "mobileNumber": "447123123123"}})
    with pytest.raises(ValidationError):
        client.upsert_contact({"identifiers": {"email": "c@example.com"},
                               "channelProperties": {"email": {"emailType": "Html"}}})


def test_contact_import_with_mixed_records(client, server) -> None:
    import_id = client.import_contacts([
        _contact("ok@example.com"),
        _contact("bad@@example.com"),
        {"identifiers": {"email": "p@example.com", "mobileNumber": "0712"}},
        _contact("OK@example.com"),
    ])
    report = wait_for_import(client, import_id, kind="contacts", **FAST_POLL)
    assert report.status == "Finished" and report.succeeded
    codes = sorted(code for f in report.failures for code in f.failure_codes)
    assert codes == ["Duplicate", "InvalidEmail", "InvalidPhoneNumber"]
    assert [r.identifiers["email"] for r in report.created] == ["ok@example.com"]
    assert server.state.contact("ok@example.com") is not None


def test_insight_import_with_mixed_records(client, server) -> None:
    client.upsert_contact(_contact("jo@example.com"))
    import_id = client.import_insight_data("Purchases", [
        insight_record("o1", {"id": "o1", "order_total": 5.0}, email="jo@example.com"),
        insight_record("o2", {"id": "o2"}, email="guest@example.com"),
        insight_record("o3", {"products": [[1, 2]]}, email="jo@example.com"),
        insight_record("o1", {"id": "o1"}, email="jo@example.com"),
    ])
    report = wait_for_import(client, import_id, kind="insight", **FAST_POLL)
    assert report.succeeded
    reasons = sorted(f.failure_reason for f in report.failures)
    assert reasons == ["ContactEmailDoesNotExist", "DuplicateKey", "JsonContainsNestedArray"]
    assert [r["key"] for r in server.state.insight_records("Purchases")] == ["o1"]


def test_failed_imports_are_reported(server) -> None:
    server.state.faults.fail_imports = 1.0
    server.state.faults.failed_import_status = "RejectedByWatchdog"
    with _client(server) as c:
        report = wait_for_import(c, c.import_contacts([_contact("a@example.com")]),
                                 kind="contacts", **FAST_POLL)
        assert report.status == "RejectedByWatchdog" and not report.succeeded


def test_concurrency_limits_surface_as_rate_limited_errors() -> None:
    config = EmulatorConfig(import_delay=60, max_contact_imports=25, max_insight_imports=5)
    with EmulatorServer(config) as server, _client(server, max_retries=0) as c:
        c.upsert_contact(_contact("jo@example.com"))
        for i in range(25):
            c.import_contacts([_contact(f"c{i}@example.com")])
        with pytest.raises(RateLimitedError) as contacts_limit:
            c.import_contacts([_contact("late@example.com")])
        assert contacts_limit.value.status == 429
        for i in range(5):
            c.import_insight_data("Purchases", [insight_record(f"o{i}", {"id": i},
                                                               email="jo@example.com")])
        with pytest.raises(RateLimitedError):
            c.import_insight_data("Purchases", [insight_record("x", {"id": 0},
                                                               email="jo@example.com")])
        server.state.complete_imports()
        c.import_contacts([_contact("late@example.com")])


def test_bulk_delete(client, server) -> None:
    client.upsert_contact(_contact("a@example.com"))
    delete_id = client.delete_contacts([{"email": "a@example.com"},
                                        {"email": "nobody@example.com"}])
    server.state.complete_imports()
    report = client.get_contact_delete(delete_id)
    assert report.status == "Finished"
    assert report.summary["deletedContacts"] == 1
    assert server.state.contacts() == []


def test_contacts_modified_since_pages(client) -> None:
    for i in range(5):
        client.upsert_contact(_contact(f"c{i}@example.com"))
    seen = [c["identifiers"]["email"]
            for c in client.contacts_modified_since(datetime(2000, 1, 1, tzinfo=UTC), limit=2)]
    assert seen == [f"c{i}@example.com" for i in range(5)]


def test_single_insight_upserts(client, server) -> None:
    client.upsert_contact(_contact("jo@example.com"))
    assert client.create_insight_collection("Purchases") is True  # a new account has none
    client.upsert_contact_insight("Purchases", "o1", {"id": "o1"}, "jo@example.com")
    client.upsert_contact_insight("Purchases", "o1", {"id": "o1", "x": 1}, "jo@example.com")
    with pytest.raises(NotFoundError):
        client.upsert_contact_insight("Purchases", "o2", {"id": "o2"}, "ghost@example.com")
    client.import_insight_data("Catalog", [insight_record("p1", {"n": "hat"})],
                               scope="account", type="catalog")
    server.state.complete_imports()
    client.upsert_account_insight("Catalog", "p2", {"n": "cap"})
    assert len(server.state.insight_records("Catalog")) == 2
    assert server.state.insight_records("Purchases")[0]["json"] == {"id": "o1", "x": 1}


def test_triggered_sends(client, server) -> None:
    client.send_triggered_campaign(1001, "jo@example.com", {"CERTIFICATE_CODE": "C1"})
    with pytest.raises(NotFoundError):
        client.send_triggered_campaign(4242, "jo@example.com", {})
    with pytest.raises(ValidationError):
        client.send_triggered_campaign(1004, "jo@example.com", {})   # Paused
    results = client.send_triggered_campaign_batch([
        TriggeredSend(1002, "a@example.com", {"ORDER_ID": "1"}),
        TriggeredSend(1005, "b@example.com", {}),
    ])
    assert [r.ok for r in results] == [True, False]
    assert results[1].failure_code == "ERROR_CAMPAIGN_SENDNOTPERMITTED"
    assert [s["campaignId"] for s in server.state.sends()] == [1001, 1002]


def test_a_send_whose_answer_is_lost_is_not_repeated(client, server) -> None:
    server.state.faults.script.append({"kind": "drop_after",
                                       "path": "/v2/email/triggered-campaign"})
    with pytest.raises(SendOutcomeUnknown):
        client.send_triggered_campaign(1001, "jo@example.com", {"CODE": "X"})
    assert len(server.state.sends()) == 1      # sent once, and the client did not retry


def test_idempotent_calls_retry_through_5xx_and_drops(client, server) -> None:
    server.state.faults.script.extend([{"kind": "error", "path": "/contacts/v3/email"},
                                       {"kind": "drop_after", "path": "/contacts/v3/email"}])
    result = client.upsert_contact(_contact("jo@example.com"))
    assert result.contact_id
    faults = [c["fault"] for c in server.state.calls()]
    assert faults == ["error", "drop_after", None]


def test_campaigns_and_suppressions(client) -> None:
    campaigns = {c.id: c for c in client.list_campaigns(page_size=2)}
    assert set(campaigns) == {1001, 1002, 1003, 1004, 1005}
    assert campaigns[1001].status == "Triggered"
    assert client.get_campaign(1002).name == "Order confirmation"
    with pytest.raises(NotFoundError):
        client.get_campaign(4242)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert {s.email for s in client.suppressed_since(since, page_size=1)} == {
        "unsubscribed@example.com", "bounced@example.com"}
    assert [s.email for s in client.unsubscribed_since(since)] == ["unsubscribed@example.com"]


def test_rate_limit_headers_make_the_client_wait_for_the_reset() -> None:
    config = EmulatorConfig(rate_limit_per_minute=2, rate_limit_window=0.5)
    with EmulatorServer(config) as server, _client(server, max_retries=3) as c:
        for _ in range(4):
            c.get_campaign(1001)
        statuses = [call["status"] for call in server.state.calls()]
        assert statuses == [200, 200, 200, 200]     # held on Remaining: 0, never a 429
        assert c.stats.rate_limit_wait_seconds > 0


def test_a_429_is_retried_after_the_reset() -> None:
    config = EmulatorConfig(rate_limit_per_minute=1, rate_limit_window=0.5)
    with EmulatorServer(config) as server, _client(server, max_retries=3) as c:
        server.state.take_rate_slot(counted=True)   # someone else used up the window
        c.get_campaign(1001)
        assert [call["status"] for call in server.state.calls()] == [429, 200]
        assert c.stats.rate_limited == 1 and c.stats.retries == 1
