"""Retries happen only where repeating a call cannot do harm."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from dotsync.dotdigital import (
    DotdigitalClient,
    RateLimitedError,
    SendOutcomeUnknown,
    ServerError,
    TransportError,
)
from tests.dotdigital.fakes import R2, T0, FakeClock, make_client

ACCOUNT = {"id": 1, "properties": [{"name": "ApiEndpoint", "type": "String", "value": R2}]}
CONTACT = {"contactId": 7, "identifiers": {"email": "jo@example.com"}}
UPSERT = {"identifiers": {"email": "jo@example.com"}, "dataFields": {"FIRSTNAME": "Jo"}}


def rate_limited(reset: float) -> httpx.Response:
    return httpx.Response(429, headers={
        "X-RateLimit-Limit": "35", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(reset)), "X-RateLimit-Scope": "account",
    })


# ---------------------------------------------------------------- 429: wait for the reset
def test_429_waits_until_reset_then_succeeds(client: DotdigitalClient, api: respx.MockRouter,
                                             clock: FakeClock) -> None:
    route = api.get("/v2/account-info").mock(side_effect=[
        rate_limited(T0 + 40), httpx.Response(200, json=ACCOUNT)])
    info = client.account_info()
    assert info.id == 1
    assert route.call_count == 2
    assert clock.slept == pytest.approx(40 + DotdigitalClient.RATE_LIMIT_MARGIN)
    stats = client.stats
    assert stats.retries == 1 and stats.rate_limited == 1
    assert stats.rate_limit_wait_seconds == pytest.approx(41)
    assert stats.calls == {"account_info": 2}


@pytest.mark.parametrize("operation", ["send", "import"])
def test_429_is_retried_even_for_non_idempotent_calls(
    client: DotdigitalClient, api: respx.MockRouter, clock: FakeClock, operation: str
) -> None:
    """429 means Dotdigital did not process the request, so repeating it is safe."""
    if operation == "send":
        route = api.post("/v2/email/triggered-campaign").mock(
            side_effect=[rate_limited(T0 + 5), httpx.Response(200)])
        client.send_triggered_campaign(1, "jo@example.com", {})
    else:
        route = api.put("/contacts/v3/import").mock(
            side_effect=[rate_limited(T0 + 5), httpx.Response(202, json={"importId": "i"})])
        assert client.import_contacts([UPSERT]) == "i"
    assert route.call_count == 2
    assert clock.slept == pytest.approx(6)


def test_429_wait_beyond_the_bound_raises_at_once(clock: FakeClock) -> None:
    client = make_client(clock, max_rate_limit_wait=60)
    with respx.mock(base_url=R2) as api:
        route = api.get("/v2/account-info").mock(return_value=rate_limited(T0 + 3600))
        with pytest.raises(RateLimitedError):
            client.account_info()
    assert route.call_count == 1
    assert clock.sleeps == []


def test_429_without_reset_uses_retry_after(client: DotdigitalClient, api: respx.MockRouter,
                                            clock: FakeClock) -> None:
    api.get("/v2/account-info").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=ACCOUNT)])
    client.account_info()
    assert clock.slept == pytest.approx(7)


def test_429_retries_are_bounded(clock: FakeClock) -> None:
    client = make_client(clock, max_retries=2)
    with respx.mock(base_url=R2) as api:
        route = api.get("/v2/account-info").mock(side_effect=lambda request: rate_limited(
            clock.now + 10))
        with pytest.raises(RateLimitedError):
            client.account_info()
    assert route.call_count == 3


# ---------------------------------------------------------------- 5xx and drops: idempotent only
IDEMPOTENT_CALLS: dict[str, tuple[str, str, Callable[[DotdigitalClient], object], httpx.Response]]
IDEMPOTENT_CALLS = {
    "get": ("GET", "/v2/account-info", lambda c: c.account_info(),
            httpx.Response(200, json=ACCOUNT)),
    "patch-upsert": ("PATCH", "/contacts/v3/email/jo@example.com",
                     lambda c: c.upsert_contact(UPSERT), httpx.Response(200, json=CONTACT)),
    "put-insight": ("PUT", "/insightData/v3/account/Catalogue/sku-1",
                    lambda c: c.upsert_account_insight("Catalogue", "sku-1", {"a": 1}),
                    httpx.Response(204)),
    "delete": ("DELETE", "/contacts/v3/email/jo@example.com",
               lambda c: c.delete_contact("email", "jo@example.com"),
               httpx.Response(200, json={"contactId": 7})),
    "status-poll": ("GET", "/contacts/v3/import/i-1", lambda c: c.get_contact_import("i-1"),
                    httpx.Response(200, json={"importId": "i-1", "status": "NotFinished"})),
}
FAILURES: dict[str, Callable[[], object]] = {
    "500": lambda: httpx.Response(500),
    "503": lambda: httpx.Response(503, json={"message": "busy"}),
    "read-error": lambda: httpx.ReadError("connection reset by peer"),
    "read-timeout": lambda: httpx.ReadTimeout("timed out"),
    "dropped": lambda: httpx.RemoteProtocolError("Server disconnected"),
    "connect-error": lambda: httpx.ConnectError("refused"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("call", sorted(IDEMPOTENT_CALLS))
def test_idempotent_calls_are_retried(client: DotdigitalClient, api: respx.MockRouter,
                                      clock: FakeClock, call: str, failure: str) -> None:
    method, path, invoke, ok = IDEMPOTENT_CALLS[call]
    route = api.route(method=method, path=path).mock(
        side_effect=[FAILURES[failure](), FAILURES[failure](), ok])
    invoke(client)
    assert route.call_count == 3
    assert client.stats.retries == 2
    assert len(clock.sleeps) == 2 and all(s > 0 for s in clock.sleeps)


def test_retries_give_up_after_max_retries(clock: FakeClock) -> None:
    client = make_client(clock, max_retries=3)
    with respx.mock(base_url=R2) as api:
        route = api.get("/v2/account-info").mock(return_value=httpx.Response(502))
        with pytest.raises(ServerError):
            client.account_info()
    assert route.call_count == 4
    assert client.stats.retries == 3


def test_backoff_is_exponential_jittered_and_capped(clock: FakeClock) -> None:
    client = make_client(clock, max_retries=6, backoff_base=1.0, backoff_max=8.0)
    with respx.mock(base_url=R2) as api:
        api.get("/v2/account-info").mock(return_value=httpx.Response(500))
        with pytest.raises(ServerError):
            client.account_info()
    ceilings = [1, 2, 4, 8, 8, 8]
    assert len(clock.sleeps) == len(ceilings)
    for slept, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling
    assert client.stats.backoff_wait_seconds == pytest.approx(clock.slept)


# ---------------------------------------------------------------- sends: never blindly
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_send_is_not_retried_on_5xx(client: DotdigitalClient, api: respx.MockRouter,
                                    status: int) -> None:
    route = api.post("/v2/email/triggered-campaign").mock(return_value=httpx.Response(status))
    with pytest.raises(ServerError):
        client.send_triggered_campaign(1, "jo@example.com", {"A": "1"})
    assert route.call_count == 1
    assert client.stats.retries == 0


@pytest.mark.parametrize("exc", [
    httpx.ReadError("reset"), httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response"),
    httpx.WriteError("broken pipe"), httpx.WriteTimeout("timed out"),
])
@pytest.mark.parametrize("batch", [False, True])
def test_send_outcome_unknown_after_the_request_was_written(
    client: DotdigitalClient, api: respx.MockRouter, exc: Exception, batch: bool
) -> None:
    path = "/v2/email/triggered-campaign" + ("/batch" if batch else "")
    route = api.post(path).mock(side_effect=exc)
    with pytest.raises(SendOutcomeUnknown) as info:
        if batch:
            from dotsync.dotdigital import TriggeredSend

            client.send_triggered_campaign_batch([TriggeredSend(1, "jo@example.com")])
        else:
            client.send_triggered_campaign(1, "jo@example.com", {})
    assert route.call_count == 1
    assert isinstance(info.value, TransportError)
    assert info.value.transient is False


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
def test_send_is_retried_when_the_connection_never_opened(
    client: DotdigitalClient, api: respx.MockRouter, exc: Exception
) -> None:
    route = api.post("/v2/email/triggered-campaign").mock(side_effect=[exc, httpx.Response(200)])
    client.send_triggered_campaign(1, "jo@example.com", {})
    assert route.call_count == 2


def test_send_gives_up_on_connect_errors_as_transport_error(clock: FakeClock) -> None:
    client = make_client(clock, max_retries=1)
    with respx.mock(base_url=R2) as api:
        api.post("/v2/email/triggered-campaign").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(TransportError) as info:
            client.send_triggered_campaign(1, "jo@example.com", {})
    assert not isinstance(info.value, SendOutcomeUnknown)
    assert info.value.transient is True


# ---------------------------------------------------------------- import submissions
SUBMISSIONS: dict[str, tuple[str, str, Callable[[DotdigitalClient], object]]] = {
    "contacts": ("PUT", "/contacts/v3/import", lambda c: c.import_contacts([UPSERT])),
    "insight": ("PUT", "/insightData/v3/import", lambda c: c.import_insight_data(
        "Purchases", [{"key": "o1", "json": {}, "contactIdentity":
                       {"identifier": "email", "value": "jo@example.com"}}])),
    "bulk-delete": ("POST", "/contacts/v3/delete",
                    lambda c: c.delete_contacts([{"email": "jo@example.com"}])),
}


@pytest.mark.parametrize("failure", ["500", "503", "read-error", "read-timeout", "dropped"])
@pytest.mark.parametrize("submission", sorted(SUBMISSIONS))
def test_import_submissions_are_not_retried(client: DotdigitalClient, api: respx.MockRouter,
                                            submission: str, failure: str) -> None:
    method, path, invoke = SUBMISSIONS[submission]
    route = api.route(method=method, path=path).mock(side_effect=FAILURES[failure]())
    with pytest.raises((ServerError, TransportError)) as info:
        invoke(client)
    assert route.call_count == 1
    assert not isinstance(info.value, SendOutcomeUnknown)
    assert info.value.transient is True  # a later re-submission is a data-idempotent upsert


def test_import_submission_retried_when_connection_never_opened(
    client: DotdigitalClient, api: respx.MockRouter
) -> None:
    route = api.put("/contacts/v3/import").mock(side_effect=[
        httpx.ConnectError("refused"), httpx.Response(202, json={"importId": "i-9"})])
    assert client.import_contacts([UPSERT]) == "i-9"
    assert route.call_count == 2


def test_calls_are_counted_by_operation(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/v2/account-info").mock(side_effect=[httpx.Response(500),
                                                  httpx.Response(200, json=ACCOUNT)])
    api.post("/v2/email/triggered-campaign").respond(200)
    client.account_info()
    client.send_triggered_campaign(1, "jo@example.com", {})
    client.send_triggered_campaign(1, "al@example.com", {})
    stats = client.stats
    assert stats.calls == {"account_info": 2, "send_triggered_campaign": 2}
    assert stats.total_calls == 4
    assert stats.retries == 1
