"""Client-side pacing, on a fake clock (no real waiting, no timing assertions)."""

from __future__ import annotations

import httpx
import pytest
import respx

from dotsync.dotdigital import DotdigitalClient, Pacer
from tests.dotdigital.fakes import R2, T0, FakeClock, make_client

ACCOUNT = {"id": 1, "properties": []}


def test_unpaced_pacer_never_waits(clock: FakeClock) -> None:
    pacer = Pacer(None, clock=clock.time, sleep=clock.sleep)
    for _ in range(100):
        assert pacer.acquire() == 0
    assert clock.sleeps == []


def test_calls_are_spaced_by_the_budget(clock: FakeClock) -> None:
    pacer = Pacer(30, clock=clock.time, sleep=clock.sleep)  # one call per 2 s
    waits = [pacer.acquire() for _ in range(5)]
    assert waits == [0, 2, 2, 2, 2]
    assert pacer.paced_seconds == 8


def test_time_spent_working_counts_towards_the_interval(clock: FakeClock) -> None:
    pacer = Pacer(60, clock=clock.time, sleep=clock.sleep)
    pacer.acquire()
    clock.now += 0.75  # the call itself took 0.75 s
    assert pacer.acquire() == pytest.approx(0.25)
    clock.now += 5  # a quiet spell does not bank calls beyond the burst
    assert pacer.acquire() == 0
    assert pacer.acquire() == pytest.approx(1)


def test_burst_allows_back_to_back_calls_then_paces(clock: FakeClock) -> None:
    pacer = Pacer(60, burst=3, clock=clock.time, sleep=clock.sleep)
    waits = [pacer.acquire() for _ in range(6)]
    assert waits == [0, 0, 0, 1, 1, 1]


def test_rate_over_a_long_run_stays_under_the_budget(clock: FakeClock) -> None:
    pacer = Pacer(35, burst=5, clock=clock.time, sleep=clock.sleep)
    stamps = []
    for _ in range(200):
        pacer.acquire()
        stamps.append(clock.now)
    # Any 60 s window holds at most 35 + burst calls.
    for i, start in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t < start + 60)
        assert in_window <= 35 + 5


def test_hold_until_delays_the_next_call(clock: FakeClock) -> None:
    pacer = Pacer(None, clock=clock.time, sleep=clock.sleep)
    pacer.hold_until(T0 + 12)
    assert pacer.acquire() == 12
    assert pacer.acquire() == 0
    assert pacer.held_seconds == 12


def test_invalid_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
    with pytest.raises(ValueError):
        Pacer(10, burst=0)


def test_client_paces_its_calls(clock: FakeClock) -> None:
    client = make_client(clock, calls_per_minute=20)  # one call per 3 s
    with respx.mock(base_url=R2) as api:
        api.get("/v2/account-info").respond(200, json=ACCOUNT)
        for _ in range(4):
            client.account_info()
    assert clock.sleeps == [3, 3, 3]
    assert client.stats.pacing_wait_seconds == 9
    assert client.stats.rate_limit_wait_seconds == 0


def test_spent_budget_pauses_until_reset(client: DotdigitalClient, api: respx.MockRouter,
                                         clock: FakeClock) -> None:
    route = api.get("/v2/account-info").mock(side_effect=[
        httpx.Response(200, json=ACCOUNT, headers={
            "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(T0 + 30))}),
        httpx.Response(200, json=ACCOUNT),
    ])
    client.account_info()
    assert clock.sleeps == []  # nothing waits until another call is due
    client.account_info()
    assert route.call_count == 2
    assert clock.slept == pytest.approx(30 + DotdigitalClient.RATE_LIMIT_MARGIN)
    assert client.stats.rate_limit_wait_seconds == pytest.approx(31)


def test_remaining_budget_does_not_pause(client: DotdigitalClient, api: respx.MockRouter,
                                         clock: FakeClock) -> None:
    api.get("/v2/account-info").respond(200, json=ACCOUNT, headers={
        "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(int(T0 + 30))})
    client.account_info()
    client.account_info()
    assert clock.sleeps == []


def test_from_settings_takes_the_budget() -> None:
    from pydantic import SecretStr

    from dotsync.config import Settings

    settings = Settings(api_user="apiuser-x@apiconnector.com", api_password=SecretStr("pw"),
                        api_endpoint="https://r3-api.dotdigital.com/", calls_per_minute=35)
    client = DotdigitalClient.from_settings(settings)
    assert client.endpoint == "https://r3-api.dotdigital.com"
    assert client._pacer.calls_per_minute == 35
