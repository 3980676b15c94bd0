"""Fixtures for the emulator's tests: a real loopback server and a spec-checking client."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import CheckedClient, make_client


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Each test must stop every emulator it started (no uvicorn thread left behind)."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("dotsync-emulator")]
    assert not left, f"emulator threads left running: {left}"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig()) as server:
        yield server


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[CheckedClient]:
    with make_client(emulator) as client:
        yield client


