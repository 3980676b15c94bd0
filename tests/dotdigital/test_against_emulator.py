"""The client against the bundled emulator over real loopback HTTP.

respx tests pin the client's logic; these make sure the same calls work through a real
socket and a real server with Dotdigital's semantics (discovery, paging, imports, faults).
No timing is asserted; waits are kept to fractions of a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from dotsync.dotdigital import (
    DotdigitalClient,
    NotFoundError,
    SendOutcomeUnknown,
    TriggeredSend,
    insight_record,
    wait_for_import,
)

emulator = pytest.importorskip("dotsync.emulator")

USER = emulator.DEFAULT_USER
PASSWORD = emulator.DEFAULT_PASSWORD
FAST_POLL = {"poll_interval": 0.01, "min_poll": 0.005, "max_poll": 0.05, "timeout": 30}


@pytest.fixture
def server() -> Iterator[object]:
    config = emulator.EmulatorConfig(import_delay=0.05, random_seed=3,
                                     seed={"generatedCampaigns": 2100})
    with emulator.EmulatorServer(config) as srv:
        yield srv


def make(server: object, **kwargs: object) -> DotdigitalClient:
    options: dict[str, object] = {"endpoint": server.url, "backoff_base": 0.01,  # type: ignore[attr-defined]
                                  "backoff_max": 0.05}
    options.update(kwargs)
    return DotdigitalClient(USER, PASSWORD, **options)  # type: ignore[arg-type]


def test_discovery_through_account_info(server: object) -> None:
    with DotdigitalClient(USER, PASSWORD, discovery_url=server.url) as client:  # type: ignore[attr-defined]
        info = client.account_info()
        assert client.endpoint == server.url.rstrip("/")  # type: ignore[attr-defined]
        assert info.api_endpoint == client.endpoint
        assert client.get_campaign(1001).name == "Gift certificate"


def test_contacts_round_trip(server: object) -> None:
    with make(server) as client:
        contact = {"identifiers": {"email": "jo@example.com", "mobileNumber": "+447911123456"},
                   "dataFields": {"FIRSTNAME": "Jo"},
                   "channelProperties": {"email": {"emailType": "html", "optInType": "single",
                                                   "status": "subscribed"}}}
        assert client.upsert_contact(contact).created is True
        assert client.upsert_contact(contact).created is False
        assert client.get_contact("email", "jo@example.com")["dataFields"]["FIRSTNAME"] == "Jo"
        mobile_only = {"identifiers": {"mobileNumber": "+447911123999"}}
        assert client.upsert_contact(mobile_only).created is True
        since = datetime.now() - timedelta(hours=1)
        emails = {c["identifiers"].get("email")
                  for c in client.contacts_modified_since(since, limit=1)}
        assert "jo@example.com" in emails
        client.delete_contact("email", "jo@example.com")
        with pytest.raises(NotFoundError):
            client.get_contact("email", "jo@example.com")


def test_contact_and_insight_imports(server: object) -> None:
    with make(server) as client:
        people = [{"identifiers": {"email": f"p{i}@example.com"}} for i in range(20)]
        people.append({"identifiers": {"email": "not-an-email"}})
        import_id = client.import_contacts(people)
        report = wait_for_import(client, import_id, **FAST_POLL)
        assert report.succeeded
        assert len(report.created) == 20
        assert [f.failure_codes for f in report.failures] == [("InvalidEmail",)]

        records = [insight_record(f"o-{i}", {"id": f"o-{i}", "order_total": 1.5},
                                  email=f"p{i}@example.com") for i in range(5)]
        records.append(insight_record("o-x", {"id": "o-x"}, email="nobody@example.com"))
        insight_id = client.import_insight_data("Purchases", records)
        insight = wait_for_import(client, insight_id, kind="insight", **FAST_POLL)
        assert insight.succeeded
        assert [(f.key, f.failure_reason) for f in insight.failures] == [
            ("o-x", "ContactEmailDoesNotExist")]
        client.upsert_contact_insight("Purchases", "o-9", {"id": "o-9"}, "p1@example.com")


def test_sends_campaigns_and_suppressions(server: object) -> None:
    with make(server) as client:
        client.send_triggered_campaign(1001, "jo@example.com", {"CERTIFICATE_CODE": "X"})
        results = client.send_triggered_campaign_batch([
            TriggeredSend(1001, "al@example.com", {"N": "1"}),
            TriggeredSend(1001, "bounced@example.com", {"N": "2"}),
        ])
        assert [r.ok for r in results] == [True, False]
        assert len(server.state.sends()) == 2  # type: ignore[attr-defined]
        campaigns = client.list_campaigns()
        assert len(campaigns) == 2105
        assert len({c.id for c in campaigns}) == 2105
        suppressed = client.suppressed_since(date(2000, 1, 1))
        assert {s.email for s in suppressed} >= {"bounced@example.com"}


def test_lost_send_answer_is_not_repeated(server: object) -> None:
    server.state.set_faults(script=[  # type: ignore[attr-defined]
        {"kind": "drop_after", "path": "/v2/email/triggered-campaign", "method": "POST"}])
    with make(server) as client, pytest.raises(SendOutcomeUnknown):
        client.send_triggered_campaign(1001, "jo@example.com", {})
    assert len(server.state.sends()) == 1  # type: ignore[attr-defined]  # it was sent, once


def test_idempotent_calls_ride_out_faults(server: object) -> None:
    server.state.set_faults(script=[  # type: ignore[attr-defined]
        {"kind": "error", "status": 503, "path": "/v2/campaigns", "method": "GET"},
        {"kind": "drop_before", "path": "/v2/campaigns", "method": "GET"},
    ])
    with make(server) as client:
        assert client.get_campaign(1001).id == 1001
        assert client.stats.retries == 2


def test_rate_limit_is_waited_out() -> None:
    config = emulator.EmulatorConfig(rate_limit_per_minute=3, rate_limit_window=0.3)
    with emulator.EmulatorServer(config) as srv, make(srv, max_rate_limit_wait=5) as client:
        for _ in range(5):
            client.get_campaign(1001)
        stats = client.stats
        assert stats.calls["get_campaign"] >= 5
        assert stats.rate_limit_wait_seconds > 0


def test_an_idle_connection_is_let_go_before_the_server_would_close_it(server: object) -> None:
    """A connection reused at the moment the server closes it fails with "Server
    disconnected", and an import or a send failing so is not retried: the client's idle
    connections expire well before the emulator's (and a common server's) 5 s."""
    from dotsync.dotdigital.client import KEEPALIVE_EXPIRY
    from dotsync.emulator.server import KEEP_ALIVE

    client = make(server)
    try:
        client.account_info()
        # httpx keeps the setting on its connection pool (no public accessor).
        pool = client._transport.http._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry == KEEPALIVE_EXPIRY
        assert KEEPALIVE_EXPIRY <= KEEP_ALIVE / 2
    finally:
        client.close()
