"""Keeping several Dotdigital bulk imports in flight without exceeding the limits.

Dotdigital allows 25 active contact imports and 5 active insight imports per
account, and asks callers to poll every 5 to 30 seconds. :func:`run_imports`
submits chunks up to the allowed number, polls the ones in flight once per round,
and hands each finished import back as soon as it is done, so the caller records
outcomes while later chunks are still running (and a crash loses at most what was
in flight).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dotsync import failpoints
from dotsync.dotdigital.errors import AuthenticationError, ImportWaitTimeout, RateLimitedError
from dotsync.dotdigital.reports import CONTACT_IMPORT_TERMINAL, INSIGHT_IMPORT_TERMINAL

C = TypeVar("C", bound=Sized)  # a chunk of records
R = TypeVar("R")  # an import report

#: Statuses after which an import (of either kind) changes no more.
TERMINAL = CONTACT_IMPORT_TERMINAL | INSIGHT_IMPORT_TERMINAL


@dataclass
class Finished(Generic[C, R]):
    """One import that ended: ``chunk`` is what ``keep`` kept of it (the chunk itself by
    default), ``report`` its final report, or ``error`` why it could not be submitted
    or followed."""

    chunk: Any
    import_id: str | None
    report: R | None
    error: Exception | None = None


def run_imports(
    chunks: Iterable[C],
    submit: Callable[[C], str],
    status: Callable[[str], R],
    *,
    max_in_flight: int,
    poll_interval: float = 5.0,
    max_wait: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    status_of: Callable[[R], str] = lambda r: r.status,  # type: ignore[attr-defined]
    keep: Callable[[C], Any] = lambda chunk: chunk,
    max_records_in_flight: int | None = None,
    pausable: bool = False,
) -> Iterator[Finished[C, R]]:
    """Submit ``chunks`` as imports, at most ``max_in_flight`` at once; yield each result.

    ``chunks`` is read lazily: a new chunk is taken only when a slot is free, so a
    generator behind it is paced by Dotdigital. ``keep`` reduces a submitted chunk to
    what the caller needs to settle it (e.g. its keys), so the records themselves are
    not held while the import runs. A submission refused with 429 (too many active
    imports, e.g. another run's) is tried again after the next poll round. An import
    still running after ``max_wait`` seconds is given up with :class:`ImportWaitTimeout`
    (a transient error: its records are retried by a later run).
    ``max_records_in_flight`` also bounds the records behind the imports in flight
    (a chunk is submitted when nothing is in flight, or when it fits), which bounds
    the memory their bookkeeping takes, whatever the size of the load.
    ``pausable`` hands the waiting to the caller: instead of sleeping, a :class:`Pause`
    saying until when is yielded (resume it once that time has come, or later: a poll
    that came due meanwhile is made at once), and :data:`DRAINED` is yielded once, as
    soon as every chunk has been submitted while some imports are still in flight. A
    caller may so do other work while imports run (see
    :class:`dotsync.sync.steps.bulk_import.InFlight`).
    """
    source = iter(chunks)
    held: deque[C] = deque()
    # [what keep() kept, import id, submitted at, next poll at]
    in_flight: list[list[Any]] = []
    limit = max(1, max_in_flight)
    exhausted = False
    announced = not pausable

    def take() -> C | None:
        nonlocal exhausted
        if held:
            return held.popleft()
        if exhausted:
            return None
        chunk = next(source, _END)
        if chunk is _END:
            exhausted = True
            return None
        return chunk

    def records_in_flight() -> int:
        return sum(len(entry[0]) for entry in in_flight) if max_records_in_flight else 0

    while True:
        throttled = False
        while len(in_flight) < limit:
            chunk = take()
            if chunk is None:
                break
            if (max_records_in_flight and in_flight
                    and records_in_flight() + len(chunk) > max_records_in_flight):
                held.appendleft(chunk)  # wait until an import in flight ends
                break
            try:
                import_id = submit(chunk)
            except RateLimitedError:
                held.appendleft(chunk)
                throttled = True
                break
            except Exception as exc:  # reported per chunk, not raised
                if isinstance(exc, AuthenticationError):
                    raise
                yield Finished(keep(chunk), None, None, exc)
                del chunk
                continue
            failpoints.hit("after_import_submit")
            now = clock()
            in_flight.append([keep(chunk), import_id, now, now + poll_interval])
            # Let the submitted body go before the next one is built: two 48 MB
            # bodies would otherwise be held at once while chunks come in a row.
            del chunk
        if not in_flight:
            if exhausted and not held:
                return
            # Throttled by another run's imports: try again later.
            if pausable:
                yield Pause(None, None, None, until=clock() + poll_interval)
            else:
                sleep(poll_interval)
            continue
        # Prepare the next chunk while the imports run, so local work overlaps the wait.
        if not held and not exhausted:
            chunk = take()
            if chunk is not None:
                held.append(chunk)
        if exhausted and not held and not announced:
            announced = True
            yield DRAINED
        wait = min(entry[3] for entry in in_flight) - clock()
        if wait > 0:
            if pausable:
                yield Pause(None, None, None, until=clock() + wait)
            else:
                sleep(wait)
        still: list[list[Any]] = []
        for entry in in_flight:
            kept, import_id, started, due = entry
            now = clock()
            if due > now:
                still.append(entry)
                continue
            try:
                report = status(import_id)
            except Exception as exc:
                if isinstance(exc, AuthenticationError):
                    raise
                if getattr(exc, "transient", False) and now - started < max_wait:
                    entry[3] = now + poll_interval
                    still.append(entry)
                    continue
                yield Finished(kept, import_id, None, exc)
                continue
            if status_of(report) in TERMINAL:
                yield Finished(kept, import_id, report)
            elif now - started >= max_wait:
                yield Finished(kept, import_id, None, ImportWaitTimeout(
                    f"import {import_id} still {status_of(report)} after {max_wait:.0f} s",
                    import_id=import_id, last_status=status_of(report)))
            else:
                entry[3] = now + poll_interval
                still.append(entry)
        in_flight = still
        # After a 429 (another run holds slots), stay at what is in flight for a round.
        limit = max(1, len(in_flight)) if throttled else max(1, max_in_flight)


@dataclass
class Pause(Finished[Any, Any]):
    """Yielded by a pausable :func:`run_imports` instead of sleeping: resume it once
    the clock reads ``until``. Not an import."""

    until: float = 0.0


_END: Any = object()

#: Yielded by :func:`run_imports` (when asked) once every chunk is submitted: not an
#: import, compare with ``is``.
DRAINED: Finished[Any, Any] = Finished(chunk=None, import_id=None, report=None)
