"""A run alone on its account asks Prefect's rate limit a little over one slot's decay
apart (flows/limits.py): an early ask is refused, restarts the decay and is told to wait
twice the interval, so asking as soon as the client's pacer allowed gave each run about
two thirds of its budget."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dotsync.flows.limits import SPACING_MARGIN, SharedLimits


class FakeServer:
    """A Prefect rate limit of one slot as the server keeps it: a slot frees once a
    whole interval has passed since the row last changed, and a refusal changes it."""

    def __init__(self, clock: list[float], interval: float,
                 latencies: tuple[float, ...] = (0.0,)) -> None:
        self.clock = clock
        self.interval = interval
        #: How long the server takes before it stamps the row, ask after ask (cycled).
        self.latencies = latencies
        self.updated = -1e9
        self.asks: list[tuple[float, bool]] = []

    def increment_concurrency_slots(self, **_: Any) -> None:
        self.clock[0] += self.latencies[len(self.asks) % len(self.latencies)]
        now = self.clock[0]
        granted = now - self.updated >= self.interval
        self.updated = now
        self.asks.append((now, granted))
        if not granted:
            request = httpx.Request("POST", "http://prefect/v2/concurrency_limits/increment")
            raise httpx.HTTPStatusError("locked", request=request, response=httpx.Response(
                423, headers={"Retry-After": str(2 * self.interval)}, request=request))


def _run(spacing: float, calls: int, interval: float = 60 / 35) -> FakeServer:
    clock = [0.0]
    server = FakeServer(clock, interval)

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    shared = SharedLimits(server, "dotsync-calls-acme", {}, spacing=spacing, sleep=sleep,
                          clock=lambda: clock[0])
    for _ in range(calls):
        clock[0] += interval * 0.99  # the client's own pacer: a hair early, as happens
        shared.acquire("send_campaign")
    return server


def test_spaced_asks_are_never_refused_and_keep_the_budget() -> None:
    interval = 60 / 35
    server = _run(SPACING_MARGIN * interval, calls=35)
    assert all(granted for _, granted in server.asks)
    span = server.asks[-1][0] - server.asks[0][0]
    assert span == pytest.approx(34 * SPACING_MARGIN * interval)
    assert 35 / (span / 60 + interval / 60) > 0.95 * 35  # within 5% of the budget


def test_a_slow_answer_pushes_the_next_ask_back_so_it_is_not_refused() -> None:
    # One answer is slow (the server stamps the limit 0.3 s after the ask left), the
    # next is prompt: spacing counted from the asks alone would come back 0.3 s early.
    interval = 60 / 35
    clock = [0.0]
    server = FakeServer(clock, interval, latencies=(0.3, 0.0))

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    shared = SharedLimits(server, "dotsync-calls-acme", {},
                          spacing=SPACING_MARGIN * interval, sleep=sleep,
                          clock=lambda: clock[0])
    for k in range(20):
        clock[0] = max(clock[0], k * interval)  # the client's pacer: a fixed schedule
        shared.acquire("send_campaign")
    assert all(granted for _, granted in server.asks)
    # What the run logs at its end: every ask, and how long their answers took.
    assert shared.asks == 20 and shared.refused == 0
    assert shared.ask_seconds == pytest.approx(10 * 0.3)
    assert shared.spaced_seconds > 0
    assert shared.refused == 0


def test_unspaced_asks_are_refused_and_lose_a_third_of_the_budget() -> None:
    server = _run(0.0, calls=35)
    assert any(not granted for _, granted in server.asks)
    span = server.asks[-1][0] - server.asks[0][0]
    assert 35 * 60 / span < 0.7 * 35


def test_threads_of_one_run_each_reserve_their_own_later_slot() -> None:
    clock = [100.0]
    waits: list[float] = []
    server = FakeServer(clock, 1.0)
    shared = SharedLimits(server, "dotsync-calls-acme", {}, spacing=1.5,
                          sleep=waits.append, clock=lambda: clock[0])
    for _ in range(3):  # three callers at the same instant (the clock does not move)
        shared._keep_spacing()
    assert waits == [1.5, 3.0]


def test_no_rate_limit_means_no_spacing_and_no_ask() -> None:
    waits: list[float] = []
    server = FakeServer([0.0], 1.0)
    shared = SharedLimits(server, None, {}, spacing=5.0, sleep=waits.append)
    shared.acquire("get_account_info")
    assert waits == [] and server.asks == []
