"""Fixtures shared by the whole suite: staging stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from dotsync.store import Store

POSTGRES_URL = os.environ.get("DOTSYNC_TEST_POSTGRES_URL")
# Task retries back off for 2 s, 4 s, 8 s in production; tests need not wait that long.
os.environ.setdefault("DOTSYNC_TASK_RETRY_BACKOFF", "0.05")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# CI draws the same examples on every run, so a submission never fails on a rare draw
# that no one has seen; local runs keep exploring (a failure there is a bug to fix).
# No per-example deadline there either: CI machines are shared, and a slow example is
# a benchmark's business, not a correctness failure.
hypothesis_settings.register_profile("ci", derandomize=True, database=None,
                                     print_blob=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail(
            "DOTSYNC_TEST_POSTGRES_URL must be set in CI: the PostgreSQL tests may not skip"
        )
    pytest.skip("DOTSYNC_TEST_POSTGRES_URL is not set")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a PostgreSQL schema of their own, dropped afterwards
    (for stores opened by another process or by the code under test)."""
    base = _postgres_or_skip()
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'dotsync.db'}")
    yield store
    store.dispose()


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """A store in a schema of its own, dropped afterwards, so tests never collide."""
    url = _postgres_or_skip()
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema_name}"})
    store = Store(url, engine=engine)
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request) -> Store:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_store")
