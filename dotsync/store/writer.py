"""One writer of an account's ledger at a time, whichever host or flow runs it.

``sync``, ``backfill``, ``replay`` and ``consent`` all write one account's ledger. A
deployment's own concurrency limit keeps two runs of *that deployment* apart, but not
a replay beside a scheduled sync, nor two workers on two hosts. The lock therefore
lives where the ledger lives, in the staging database, and is released by the
database itself when its holder dies, so a crashed worker never leaves it held:

- **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) on a key
  derived from the current schema, held on a connection of its own for the run. An
  account in its own schema or its own database has its own lock; the server drops
  the lock when the holder's connection goes, however it went.
- **SQLite** (one host by nature): an exclusive ``flock`` on ``<database>.writer``, which
  the kernel drops when the holding process exits. An in-memory database has one
  process by definition and needs none.

Who holds it is kept in ``dotsync_meta`` (``ledger_writer``) for the message a waiting
run prints; the lock itself never depends on that row.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dotsync.store.schema import meta

_META_KEY = "ledger_writer"
#: ``hashtext`` gives a 32-bit key; the second key of the two-key form keeps dotsync's
#: lock apart from any advisory lock the shop's own applications take.
_PG_CLASS = 0x0D075C


class _Holder:
    """How the lock is taken and released on one kind of database."""

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class _PostgresHolder(_Holder):
    def __init__(self, engine: sa.Engine) -> None:
        self.conn = engine.connect()
        self.key = self.conn.execute(sa.text("SELECT hashtext(current_schema() || :suffix)"),
                                     {"suffix": "/dotsync-ledger"}).scalar_one()
        self.conn.commit()

    def try_acquire(self) -> bool:
        got = self.conn.execute(sa.text("SELECT pg_try_advisory_lock(:c, :k)"),
                                {"c": _PG_CLASS, "k": self.key}).scalar_one()
        self.conn.commit()
        return bool(got)

    def release(self) -> None:
        try:
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"),
                              {"c": _PG_CLASS, "k": self.key})
            self.conn.commit()
        finally:
            self.conn.close()  # closing the session releases it in any case


class _FileHolder(_Holder):
    def __init__(self, path: Path) -> None:
        import fcntl

        self._fcntl = fcntl
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        try:
            self._fcntl.flock(self.fd, self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        try:
            self._fcntl.flock(self.fd, self._fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


class _NoHolder(_Holder):
    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _holder_for(engine: sa.Engine) -> _Holder:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return _PostgresHolder(engine)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file::memory:"):
        try:
            return _FileHolder(Path(f"{url.database}.writer"))
        except ImportError:  # no fcntl (Windows): one host, one process at a time
            return _NoHolder()
    return _NoHolder()


def current_writer(engine: sa.Engine) -> dict[str, Any] | None:
    """Who last took the lock (and has it now, if one is waiting): run, flow, host, pid."""
    try:
        with engine.connect() as conn:
            raw = conn.execute(sa.select(meta.c.value).where(meta.c.name == _META_KEY)
                               ).scalar_one_or_none()
    except sa.exc.DBAPIError:
        return None
    with suppress(ValueError, TypeError):
        return json.loads(raw) if raw else None
    return None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another run"
    return (f"{holder.get('flow', 'a')} run {holder.get('run_id', '?')} on "
            f"{holder.get('host', '?')} (pid {holder.get('pid', '?')}, since "
            f"{holder.get('since', '?')})")


def _note(engine: sa.Engine, holder: dict[str, Any]) -> None:
    """Who holds the lock, for a waiting run's message only: never fails the run."""
    value = json.dumps(holder)
    with suppress(sa.exc.DBAPIError), engine.begin() as conn:
        done = conn.execute(meta.update().where(meta.c.name == _META_KEY).values(value=value))
        if done.rowcount == 0:
            conn.execute(meta.insert().values(name=_META_KEY, value=value))


@contextmanager
def ledger_writer(engine: sa.Engine, *, flow: str, run_id: str,
                  on_wait: Callable[[str], None] | None = None,
                  poll: float = 1.0, remind_every: float = 300.0,
                  timeout: float | None = None) -> Iterator[None]:
    """Hold the account's ledger for the duration; wait (and say so) while another has it.

    ``on_wait`` is told once when the run starts waiting, naming the holder, and again
    every ``remind_every`` seconds. ``timeout`` (seconds; None waits for as long as it
    takes) raises :class:`TimeoutError` naming the holder.
    """
    holder = _holder_for(engine)
    started = time.monotonic()
    told = None
    try:
        while not holder.try_acquire():
            now = time.monotonic()
            if timeout is not None and now - started >= timeout:
                raise TimeoutError(
                    f"the ledger is still busy after {timeout:g} s: "
                    f"{_describe(current_writer(engine))} is writing it")
            if on_wait is not None and (told is None or now - told >= remind_every):
                on_wait(f"waiting for the ledger: {_describe(current_writer(engine))} "
                        "is writing it (one writer per account at a time)")
                told = now
            time.sleep(poll)
    except BaseException:
        holder.release()
        raise
    try:
        _note(engine, {"flow": flow, "run_id": run_id, "host": socket.gethostname(),
                       "pid": os.getpid(), "since": datetime.now(UTC).isoformat()})
        yield
    finally:
        holder.release()
