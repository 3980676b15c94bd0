"""A process pool for the per-value library calls that no vectorised step can replace.

phonenumbers and email-validator are pure Python (~20-45 µs a value), so threads
would not help; separate processes do. A pool costs ~0.1-0.3 s to start and pickling
per item, so it is used only when the work left after the fast paths and de-duplication
is large enough (:data:`MIN_ITEMS` values): the sync flow's frames of a few hundred rows
never start one.

The pool is created on first need, shared by all threads of the process, reused by
later calls, and shut down at exit (or by :func:`shutdown`). Workers are started with
``forkserver`` (not ``fork``): forking a process that runs other threads, as Prefect
and pyarrow do, can copy a held lock into the child. If a pool cannot be started or
breaks (a sandbox without ``/dev/shm``, a daemonic parent process), the work is done
in this process instead: slower, same answers.

Workers import the main module of the program as ``__mp_main__`` (that is how Python's
``forkserver`` and ``spawn`` work), so a script must keep its work under
``if __name__ == "__main__":``; the ``dotsync`` command, Prefect workers and pytest do.

Settings: environment variable ``DOTSYNC_CONTRACT_WORKERS`` (0 or 1 disables the pool;
default: the CPUs this process may use, at most 8), or :func:`configure`.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Generic, TypeVar

log = logging.getLogger("dotsync.data_contracts.parallel")

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items a batch runs in the calling process (~0.1-0.2 s of library
#: calls). The contracts submit this work first and do their other columns meanwhile,
#: so even a modest batch is worth sending to the pool once it is running.
MIN_ITEMS = 5_000
#: Items per task sent to a worker (small enough to balance, large enough to amortise).
CHUNK_ITEMS = 10_000

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_workers_override: int | None = None
_min_items = MIN_ITEMS
_disabled_reason: str | None = None


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def workers() -> int:
    """How many worker processes a pool would have (0 or 1: no pool)."""
    if _workers_override is not None:
        return _workers_override
    raw = os.environ.get("DOTSYNC_CONTRACT_WORKERS", "").strip()
    if raw:
        try:
            return max(0, int(raw))
        except ValueError:
            log.warning("DOTSYNC_CONTRACT_WORKERS=%r is not a number; using the default", raw)
    return min(available_cpus(), 8)


def configure(*, max_workers: int | None = None, min_items: int | None = None) -> None:
    """Change the pool size (0/1 disables it) or the size above which it is used.

    Shuts a running pool down when its size changes. Mainly for tests and benchmarks.
    """
    global _workers_override, _min_items, _disabled_reason
    with _lock:
        if max_workers is not None and max_workers != _workers_override:
            _shutdown_locked()
            _workers_override = max_workers
            _disabled_reason = None
        if min_items is not None:
            _min_items = max(1, min_items)


def reset() -> None:
    """Back to the defaults (environment or CPU count, :data:`MIN_ITEMS`); stops the pool."""
    global _workers_override, _min_items, _disabled_reason
    with _lock:
        _shutdown_locked()
        _workers_override = None
        _min_items = MIN_ITEMS
        _disabled_reason = None


def shutdown() -> None:
    """Stop the worker processes (a later large batch starts new ones)."""
    with _lock:
        _shutdown_locked()


def _shutdown_locked() -> None:
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None


atexit.register(shutdown)


def _get_executor() -> ProcessPoolExecutor | None:
    global _executor, _disabled_reason
    with _lock:
        if _executor is not None:
            return _executor
        if _disabled_reason is not None:
            return None
        n = workers()
        if n < 2:
            return None
        try:
            if multiprocessing.current_process().daemon:
                raise RuntimeError("daemonic processes cannot have children")
            ctx = multiprocessing.get_context("forkserver")
            _executor = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
        except Exception as exc:  # no pool on this platform: work serially
            _disabled_reason = f"{type(exc).__name__}: {exc}"
            log.warning("contract worker pool unavailable (%s); working in-process", exc)
            return None
        return _executor


class Deferred(Generic[R]):
    """The results of :func:`map_batches`, available through :meth:`result`.

    Either futures running in the pool, or work that runs in this process when
    :meth:`result` is first called (so the caller can overlap other work either way).
    """

    def __init__(
        self,
        func: Callable[[list[T]], list[R]],
        chunks: list[list[T]],
        futures: list[Future[list[R]]] | None,
    ) -> None:
        self._func = func
        self._chunks = chunks
        self._futures = futures
        self._result: list[R] | None = None

    @property
    def parallel(self) -> bool:
        return self._futures is not None

    def result(self) -> list[R]:
        if self._result is None:
            out: list[R] = []
            if self._futures is None:
                for chunk in self._chunks:
                    out.extend(self._func(chunk))
            else:
                for chunk, future in zip(self._chunks, self._futures, strict=True):
                    try:
                        out.extend(future.result())
                    except Exception as exc:  # broken pool: redo this chunk here
                        log.warning("contract worker failed (%s); redoing its chunk in-process",
                                    exc)
                        _mark_broken(exc)
                        out.extend(self._func(chunk))
            self._result = out
            self._chunks = []
            self._futures = None
        return self._result


def _mark_broken(exc: BaseException) -> None:
    global _executor, _disabled_reason
    with _lock:
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool) and _executor is not None:
            _executor.shutdown(wait=False, cancel_futures=True)
            _executor = None


def map_batches(
    func: Callable[[list[T]], list[R]],
    items: Sequence[T],
    *,
    min_items: int | None = None,
) -> Deferred[R]:
    """``func`` over ``items`` in chunks: in the pool when there are enough, else here.

    ``func`` must be a module-level function taking and returning a list (one result
    per item, in order), so that workers can import it.
    """
    threshold = _min_items if min_items is None else min_items
    items = list(items)
    if len(items) < threshold:
        return Deferred(func, [items] if items else [], None)
    executor = _get_executor()
    if executor is None:
        return Deferred(func, [items], None)
    n = workers()
    size = max(1000, min(CHUNK_ITEMS, -(-len(items) // (n * 4))))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    try:
        futures = [executor.submit(func, chunk) for chunk in chunks]
    except Exception as exc:  # pool broke or shut down between calls
        _mark_broken(exc)
        return Deferred(func, chunks, None)
    return Deferred(func, chunks, futures)
