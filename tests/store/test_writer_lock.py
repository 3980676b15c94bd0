"""One writer of an account's ledger at a time (issue 17): the lock itself.

Contention is tested between processes (as two workers would be) and between
threads; a holder killed with SIGKILL must not leave the lock held.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from dotsync.store import Store
from dotsync.store.writer import current_writer, ledger_writer
from tests.conftest import _postgres_or_skip


def _hold(url: str, schema: str | None, ready, release) -> None:  # a child process
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    engine = sa.create_engine(url, connect_args=connect_args)
    with ledger_writer(engine, flow="backfill", run_id="holder-run"):
        ready.set()
        release.wait(60)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    """(url, schema or None, an engine on it) for each kind of store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        Store(url).dispose()
        engine = sa.create_engine(url)
        yield url, None, engine
        engine.dispose()
        return
    url = _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    Store(url, engine=engine)
    try:
        yield url, schema, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _start_holder(url: str, schema: str | None):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(url, schema, ready, release), daemon=True)
    proc.start()
    assert ready.wait(60), "the holder never took the lock"
    return proc, release


def test_a_second_writer_waits_names_the_holder_and_gets_it_after(where) -> None:
    url, schema, engine = where
    proc, release = _start_holder(url, schema)
    told: list[str] = []
    with pytest.raises(TimeoutError, match="backfill run holder-run"), \
            ledger_writer(engine, flow="sync", run_id="r2", on_wait=told.append,
                          poll=0.05, timeout=0.5):
        pytest.fail("took a lock another process holds")
    assert told and "waiting for the ledger: backfill run holder-run" in told[0]
    assert f"pid {proc.pid}" in told[0]
    release.set()
    proc.join(30)
    with ledger_writer(engine, flow="sync", run_id="r2", poll=0.05, timeout=30):
        assert current_writer(engine)["run_id"] == "r2"


def test_a_killed_holder_leaves_the_lock_free(where) -> None:
    url, schema, engine = where
    proc, _release = _start_holder(url, schema)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    with ledger_writer(engine, flow="sync", run_id="after-crash", poll=0.1, timeout=30):
        pass


def test_threads_take_turns(where) -> None:
    _url, _schema, engine = where
    inside, overlaps = [0], []
    lock = threading.Lock()

    def work() -> None:
        with ledger_writer(engine, flow="sync", run_id=threading.current_thread().name,
                           poll=0.01, timeout=60):
            with lock:
                inside[0] += 1
                overlaps.append(inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work, name=f"t{i}") for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert overlaps == [1, 1, 1, 1]


def test_accounts_in_other_schemas_do_not_wait_for_each_other(where) -> None:
    url, schema, engine = where
    if schema is None:  # SQLite: another account is another file
        other = sa.create_engine(f"sqlite:///{Path(engine.url.database).with_name('other.db')}")
        Store(str(other.url)).dispose()
    else:
        other_schema = f"t_{uuid.uuid4().hex[:12]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{other_schema}"'))
        other = sa.create_engine(url, connect_args={"options": f"-csearch_path={other_schema}"})
        Store(url, engine=other)
    try:
        with ledger_writer(engine, flow="sync", run_id="a", timeout=5), \
                ledger_writer(other, flow="sync", run_id="b", poll=0.05, timeout=5):
            assert current_writer(other)["run_id"] == "b"
    finally:
        other.dispose()
        if schema is not None:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{other_schema}" CASCADE'))


def test_an_in_memory_store_needs_no_lock() -> None:
    engine = sa.create_engine("sqlite://")
    with ledger_writer(engine, flow="sync", run_id="a", timeout=1), \
            ledger_writer(engine, flow="sync", run_id="b", timeout=1):
        pass
