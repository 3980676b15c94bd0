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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from dotsync.dotdigital.errors import RateLimitedError

C = TypeVar("C")  # a chunk of records
R = TypeVar("R")  # an import report

TERMINAL = frozenset(
    {"Finished", "Complete", "Failed", "RejectedByWatchdog", "ExceedsAllowedContactLimit"}
)


@dataclass
class Finished(Generic[C, R]):
    chunk: C
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
    sleep: Callable[[float], None] = time.sleep,
    status_of: Callable[[R], str] = lambda r: r.status,  # type: ignore[attr-defined]
    on_submitted: Callable[[C, str], None] | None = None,
) -> Iterator[Finished[C, R]]:
    """Submit ``chunks`` as imports, at most ``max_in_flight`` at once; yield each result.

    ``submit`` returns an import id; ``status`` returns its report. A submission
    refused with 429 (too many active imports, e.g. another run's) waits for the
    next poll round and tries again. A submission that fails otherwise is yielded
    with its error so the caller can mark that chunk's records failed.
    """
    pending: deque[C] = deque(chunks) if not isinstance(chunks, Iterator) else deque()
    source: Iterator[C] | None = chunks if isinstance(chunks, Iterator) else None
    in_flight: list[tuple[C, str]] = []

    def next_chunk() -> C | None:
        if pending:
            return pending.popleft()
        if source is not None:
            return next(source, None)
        return None

    limit = max(1, max_in_flight)
    while True:
        throttled = False
        while len(in_flight) < limit and not throttled:
            chunk = next_chunk()
            if chunk is None:
                break
            try:
                import_id = submit(chunk)
            except RateLimitedError:
                pending.appendleft(chunk)
                throttled = True
                limit = max(1, len(in_flight))  # another run holds slots: stay below
                break
            except Exception as exc:
                yield Finished(chunk, None, None, exc)
                continue
            if on_submitted is not None:
                on_submitted(chunk, import_id)
            in_flight.append((chunk, import_id))
        if not in_flight:
            if throttled:
                sleep(poll_interval)
                continue
            return
        sleep(poll_interval)
        still: list[tuple[C, str]] = []
        for chunk, import_id in in_flight:
            try:
                report = status(import_id)
            except Exception as exc:
                if getattr(exc, "transient", False):
                    still.append((chunk, import_id))
                    continue
                yield Finished(chunk, import_id, None, exc)
                continue
            if status_of(report) in TERMINAL:
                yield Finished(chunk, import_id, report)
            else:
                still.append((chunk, import_id))
        in_flight = still
        if not throttled:
            limit = max(1, max_in_flight)
