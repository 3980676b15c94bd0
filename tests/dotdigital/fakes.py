"""Shared test doubles for the Dotdigital client tests (unit and contract)."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator

import pytest
import respx

from dotsync.dotdigital import DotdigitalClient

USER = "apiuser-demo@apiconnector.com"
# Awkward characters on purpose: a password that survives quoting and base64 untouched.
PASSWORD = "Pw-9f3K!x/+=~s3cr3t"
BASIC_TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
R1 = "https://r1-api.dotdigital.com"
R2 = "https://r2-api.dotdigital.com"
T0 = 1_700_000_000.0


class FakeClock:
    """Epoch-seconds clock whose ``sleep`` only advances time and records the request."""

    def __init__(self, start: float = T0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, "negative sleep"
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        return sum(self.sleeps)


def make_client(clock: FakeClock, **kwargs: object) -> DotdigitalClient:
    options: dict[str, object] = {
        "endpoint": R2,
        "sleep": clock.sleep,
        "clock": clock.time,
        "rng": random.Random(7),
    }
    options.update(kwargs)
    return DotdigitalClient(USER, PASSWORD, **options)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> Iterator[DotdigitalClient]:
    c = make_client(clock)
    yield c
    c.close()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """Every request is mocked; one to an unmocked route fails the test."""
    with respx.mock(base_url=R2, assert_all_called=False) as router:
        yield router
