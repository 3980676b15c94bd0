"""The outside-limiter hook: called before every request, retries included, and able to
stop a call before anything is sent."""

from __future__ import annotations

import httpx
import pytest
import respx

from dotsync.dotdigital import ServerError
from tests.dotdigital.fakes import R2, T0, FakeClock, make_client

ACCOUNT = {"id": 1, "properties": [{"name": "ApiEndpoint", "type": "String", "value": R2}]}


class Recorder:
    """An outside limiter that logs each acquisition next to the requests respx saw."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def __call__(self, operation: str) -> None:
        self.events.append(f"acquire {operation}")


def test_acquire_runs_before_each_request_including_retries(clock: FakeClock) -> None:
    events: list[str] = []
    client = make_client(clock, acquire=Recorder(events))

    def answer(responses: list[httpx.Response]):  # type: ignore[no-untyped-def]
        def side_effect(request: httpx.Request) -> httpx.Response:
            events.append(f"send {request.method} {request.url.path}")
            return responses.pop(0)
        return side_effect

    with respx.mock(base_url=R2) as api:
        api.get("/v2/account-info").mock(side_effect=answer([
            httpx.Response(503),
            httpx.Response(429, headers={"X-RateLimit-Reset": str(int(T0 + 5))}),
            httpx.Response(200, json=ACCOUNT)]))
        api.get("/v2/campaigns/7").mock(side_effect=answer([
            httpx.Response(200, json={"id": 7, "name": "Gift"})]))
        client.account_info()
        client.get_campaign(7)
    assert events == [
        "acquire account_info", "send GET /v2/account-info",
        "acquire account_info", "send GET /v2/account-info",
        "acquire account_info", "send GET /v2/account-info",
        "acquire get_campaign", "send GET /v2/campaigns/7",
    ]
    client.close()


def test_acquire_runs_after_the_pacing_wait(clock: FakeClock) -> None:
    """The limiter is asked right before the request goes, not before a long local wait."""
    seen: list[float] = []
    client = make_client(clock, calls_per_minute=6, acquire=lambda op: seen.append(clock.now))
    with respx.mock(base_url=R2) as api:
        api.get("/v2/campaigns/1").mock(return_value=httpx.Response(200, json={"id": 1}))
        client.get_campaign(1)
        client.get_campaign(1)
    assert seen == [T0, T0 + 10.0]
    client.close()


def test_a_refusing_limiter_stops_the_call_before_anything_is_sent(clock: FakeClock) -> None:
    class Refused(Exception):
        pass

    def refuse(operation: str) -> None:
        raise Refused(operation)

    client = make_client(clock, acquire=refuse)
    with respx.mock(base_url=R2, assert_all_called=False) as api:
        route = api.post("/v2/email/triggered-campaign").mock(return_value=httpx.Response(200))
        with pytest.raises(Refused, match="send_triggered_campaign"):
            client.send_triggered_campaign(1, "jo@example.com")
    assert route.call_count == 0
    assert client.stats.calls == {}
    client.close()


def test_without_a_limiter_calls_behave_as_before(clock: FakeClock) -> None:
    client = make_client(clock)
    with respx.mock(base_url=R2) as api:
        api.get("/v2/campaigns/1").mock(side_effect=[httpx.Response(500)] * 6)
        with pytest.raises(ServerError):
            client.get_campaign(1)
    assert client.stats.calls == {"get_campaign": 6}
    client.close()
