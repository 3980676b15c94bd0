"""Fixtures for the preflight tests: emulators with chosen seeds, a SQLite store.

Every check is run through :func:`run_preflight` against a real emulator over loopback,
so the tests exercise the same HTTP calls ``dotsync preflight`` makes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dotsync.dotdigital import DotdigitalClient
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.preflight import PreflightResult, run_preflight
from dotsync.store import Store
from tests.preflight.support import SECRET_PASSWORD, make_settings


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'preflight.db'}")
    yield s
    s.dispose()


@pytest.fixture
def emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """``emulator(seed=…, password=…)`` starts an emulator that stops after the test."""
    with contextlib.ExitStack() as stack:
        def start(seed: dict[str, Any] | None = None, password: str = SECRET_PASSWORD,
                  **config: Any) -> EmulatorServer:
            server = EmulatorServer(EmulatorConfig(password=password, seed=seed, **config))
            return stack.enter_context(server)

        yield start


@pytest.fixture
def preflight(store: Store) -> Iterator[Callable[..., PreflightResult]]:
    """``preflight(server, **settings)`` runs every check with a client built from settings.

    ``discover=True`` leaves the endpoint unset and points discovery at the emulator;
    ``transport`` swaps the client's HTTP transport (e.g. to rewrite the Host header).
    """
    clients: list[DotdigitalClient] = []

    def run(server: EmulatorServer, *, discover: bool = False,
            transport: httpx.BaseTransport | None = None, chunk_rows: int = 20_000,
            changed_only: bool = False, **fields: Any) -> PreflightResult:
        settings = make_settings(server, discover=discover, **fields)
        overrides: dict[str, Any] = {"max_retries": 0, "timeout": 5.0}
        if discover:
            overrides["discovery_url"] = server.url
        if transport is not None:
            overrides["transport"] = transport
        client = DotdigitalClient.from_settings(settings, **overrides)
        clients.append(client)
        return run_preflight(settings, store, client, chunk_rows=chunk_rows,
                             changed_only=changed_only)

    yield run
    for client in clients:
        client.close()


