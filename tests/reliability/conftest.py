"""Fixtures of the reliability suite, and which crash moments run by default.

The emulator runs in this (the test) process, so it outlives every run a test kills.
Its API password is :data:`harness.PASSWORD` everywhere, so the secret tests can look
for one distinctive string.

Selection: tests marked ``slow`` (the long crash loops) are skipped unless
``DOTSYNC_TEST_ALL=1``; :func:`seeded_subset` marks all but a seeded sample of a
parameter list ``slow``, so CI runs the same few moments every time and a flag runs
them all.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from tests.conftest import postgres_schema_url
from tests.e2e.conftest import env, prefect_backend  # noqa: F401  (fixtures used here)
from tests.reliability.harness import PASSWORD, USER

HERE = Path(__file__).resolve().parent
RUN_ALL = os.environ.get("DOTSYNC_TEST_ALL", "").strip() in {"1", "true", "yes"}


def seeded_subset(values: Sequence[Any], keep: int, seed: int,
                  ids: Sequence[str] | None = None,
                  always: Sequence[int] = ()) -> list[Any]:
    """``values`` as pytest params where all but ``keep`` of them are marked ``slow``.

    The ``keep`` are the indexes in ``always`` plus a sample of the others drawn with
    ``seed``: the same moments on every machine and every run, so a CI failure
    reproduces locally with the same test id.
    """
    chosen = set(always)
    rest = [i for i in range(len(values)) if i not in chosen]
    chosen |= set(random.Random(seed).sample(rest, max(0, min(keep - len(chosen), len(rest)))))
    return [
        pytest.param(v, id=ids[i] if ids else None,
                     marks=() if i in chosen else (pytest.mark.slow,))
        for i, v in enumerate(values)
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory's ``slow`` tests unless DOTSYNC_TEST_ALL=1."""
    if RUN_ALL:
        return
    skip = pytest.mark.skip(reason="slow: set DOTSYNC_TEST_ALL=1 to run every crash moment")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def emulator_config(**over: Any) -> EmulatorConfig:
    """The suite's emulator: its own user and the distinctive password, quick imports."""
    base: dict[str, Any] = {"user": USER, "password": PASSWORD, "import_delay": 0.02,
                            "random_seed": 1}
    base.update(over)
    return EmulatorConfig(**base)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The bundled emulator on a free loopback port, in this process."""
    with EmulatorServer(emulator_config()) as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reliability.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a PostgreSQL schema of this test's own, usable from other processes
    (the schema travels in the URL as ``options=-csearch_path=…``); dropped afterwards."""
    with postgres_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.dispose()
