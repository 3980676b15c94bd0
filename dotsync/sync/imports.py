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
from concurrent.futures import Future, ThreadPoolExecutor
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
    background: bool = False,
    sent: Callable[[C], None] | None = None,
    ahead: int = 1,
    hold: Callable[[C], C] | None = None,
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
    ``background`` sends each submission from a worker thread while the next chunk is
    built (see :class:`_Sending`); ``sent`` is then called there with each chunk
    Dotdigital accepted, to let its body go before the chunk is settled.
    While every slot is taken, up to ``ahead`` chunks are built before they can be
    submitted, one at a time and only while no poll is due, so the local work goes on
    while the imports run; each goes through ``hold`` (which may move it out of
    memory) as it is put aside.
    """
    sender = _Sending(submit, clock, sent) if background else None
    try:
        yield from _run(chunks, submit, status, sender, max_in_flight=max_in_flight,
                        poll_interval=poll_interval, max_wait=max_wait, sleep=sleep,
                        clock=clock, status_of=status_of, keep=keep,
                        max_records_in_flight=max_records_in_flight, pausable=pausable,
                        ahead=ahead, hold=hold)
    finally:
        if sender is not None:
            sender.close()


def _run(
    chunks: Iterable[C],
    submit: Callable[[C], str],
    status: Callable[[str], R],
    sender: _Sending[C] | None,
    *,
    max_in_flight: int,
    poll_interval: float,
    max_wait: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    status_of: Callable[[R], str],
    keep: Callable[[C], Any],
    max_records_in_flight: int | None,
    pausable: bool,
    ahead: int = 1,
    hold: Callable[[C], C] | None = None,
) -> Iterator[Finished[C, R]]:
    source = iter(chunks)
    held: deque[C] = deque()
    # [what keep() kept, import id, submitted at, next poll at]
    in_flight: list[list[Any]] = []
    limit = max(1, max_in_flight)
    exhausted = False
    announced = not pausable
    throttled = False  # a submission was refused with a 429 in this round

    def build() -> C | None:
        nonlocal exhausted
        if exhausted:
            return None
        chunk = next(source, _END)
        if chunk is _END:
            exhausted = True
            return None
        return chunk

    def take() -> C | None:
        return held.popleft() if held else build()

    def records_in_flight() -> int:
        if not max_records_in_flight:
            return 0
        sending = len(sender.chunk) if sender is not None and sender.chunk is not None else 0
        return sending + sum(len(entry[0]) for entry in in_flight)

    # What ``keep`` made of a chunk sent in the background and refused with a 429, by
    # the chunk's id (it is alive in ``held`` meanwhile): kept once, as it was sent.
    refused: dict[int, Any] = {}

    def send_in_background(chunk: C) -> None:
        # Kept before the next chunk is built, so what settling needs is compact while
        # it is (``keep`` takes the chunk's records, the oldest the caller holds).
        assert sender is not None
        kept = refused.pop(id(chunk)) if id(chunk) in refused else keep(chunk)
        sender.send(chunk, kept)

    def settle_send() -> Iterator[Finished[C, R]]:
        """The answer to the submission in the background: in flight, kept for later
        (a 429), or reported. Sets ``throttled`` on a 429."""
        nonlocal throttled
        assert sender is not None
        chunk, kept, answer = sender.answer()
        if isinstance(answer, RateLimitedError):
            refused[id(chunk)] = kept
            held.appendleft(chunk)
            throttled = True
            return
        if isinstance(answer, BaseException):
            if not isinstance(answer, Exception) or isinstance(answer, AuthenticationError):
                raise answer
            yield Finished(kept, None, None, answer)
            return
        import_id, at = answer
        failpoints.hit("after_import_submit")
        in_flight.append([kept, import_id, at, at + poll_interval])

    def refill(still: list[list[Any]], at: int) -> Iterator[Finished[C, R]]:
        """The import at ``at`` of this round just ended (``still``: those found running
        before it): the next chunk built goes at once, from the worker thread, while the
        one that ended is settled. Polls then stay spread as the submissions were,
        rather than bunching into rounds that each wait for every settle. A submission
        whose answer has come is taken first (it joins the imports in flight, polled in
        a later round)."""
        if sender is None or (sender.busy and not sender.answered):
            return
        if sender.busy:
            yield from settle_send()
        running = [*still, *in_flight[at + 1:]]
        if throttled or not held or len(running) >= limit:
            return
        chunk = held[0]
        if (max_records_in_flight and running and sum(len(e[0]) for e in running)
                + len(chunk) > max_records_in_flight):
            return
        held.popleft()
        send_in_background(chunk)

    def slots_taken() -> int:
        return len(in_flight) + (1 if sender is not None and sender.busy else 0)

    while True:
        throttled = False
        while slots_taken() < limit:
            chunk = take()  # built while the submission before it is in the air
            if sender is not None and sender.busy:
                yield from settle_send()
                if throttled:
                    if chunk is not None:
                        held.insert(1, chunk)  # after the one refused
                    break
            if chunk is None:
                break
            if (max_records_in_flight and slots_taken()
                    and records_in_flight() + len(chunk) > max_records_in_flight):
                held.appendleft(chunk)  # wait until an import in flight ends
                break
            if sender is not None:
                send_in_background(chunk)
                del chunk
                continue
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
        if sender is not None and sender.busy:
            # Prepare the next chunk while the last submission is in the air, then
            # take its answer: the imports' polls are counted from when it came.
            if not held and not exhausted and not throttled:
                chunk = take()
                if chunk is not None:
                    held.append(chunk)
                del chunk
            yield from settle_send()
        if not in_flight:
            if exhausted and not held:
                return
            # Throttled by another run's imports: try again later.
            if pausable:
                yield Pause(None, None, None, until=clock() + poll_interval)
            else:
                sleep(poll_interval)
            continue
        # Prepare chunks while the imports run, so local work overlaps the wait: the
        # next one, and up to ``ahead`` while no poll is due.
        while not exhausted and (not held or (
                len(held) < ahead and min(entry[3] for entry in in_flight) > clock())):
            chunk = build()
            if chunk is not None:
                held.append(chunk if hold is None else hold(chunk))
            del chunk
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
        for at, entry in enumerate(in_flight):
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
                yield from refill(still, at)
                yield Finished(kept, import_id, None, exc)
                continue
            if status_of(report) in TERMINAL:
                yield from refill(still, at)
                yield Finished(kept, import_id, report)
            elif now - started >= max_wait:
                yield from refill(still, at)
                yield Finished(kept, import_id, None, ImportWaitTimeout(
                    f"import {import_id} still {status_of(report)} after {max_wait:.0f} s",
                    import_id=import_id, last_status=status_of(report)))
            else:
                entry[3] = now + poll_interval
                still.append(entry)
        in_flight = still
        # After a 429 (another run holds slots), stay at what is in flight for a round.
        limit = max(1, len(in_flight)) if throttled else max(1, max_in_flight)


class _Sending(Generic[C]):
    """One submission at a time on a worker thread, so the next chunk is built while
    the body of the last one is in the air (a 48 MB import takes a second or two to
    send and be accepted: time the CPU would otherwise spend waiting).

    The chunk stays referenced here until its answer is taken (to be tried again
    after a 429), with what ``keep`` made of it; ``sent`` lets its body go as soon as
    Dotdigital accepted it, so two full bodies are held only for the moments the next
    one is built before the last one is sent. The answer carries the clock time it
    came, from which the import's polls are counted. The client is thread-safe (its
    pacer, slots and counters are under locks); the store is never touched from the
    thread.
    """

    def __init__(self, submit: Callable[[C], str], clock: Callable[[], float],
                 sent: Callable[[C], None] | None) -> None:
        self._submit = submit
        self._clock = clock
        self._sent = sent
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[tuple[str, float]] | None = None
        #: The chunk whose submission is in the air (None when idle).
        self.chunk: C | None = None
        self._kept: Any = None

    @property
    def busy(self) -> bool:
        return self._future is not None

    @property
    def answered(self) -> bool:
        """Whether the submission in the air has its answer (taken by :meth:`answer`)."""
        return self._future is not None and self._future.done()

    def send(self, chunk: C, kept: Any) -> None:
        assert self._future is None, "one submission at a time"
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1,
                                            thread_name_prefix="dotsync-submit")
        self.chunk, self._kept = chunk, kept
        self._future = self._pool.submit(self._send, chunk)

    def _send(self, chunk: C) -> tuple[str, float]:
        import_id = self._submit(chunk)
        at = self._clock()
        if self._sent is not None:
            self._sent(chunk)
        return import_id, at

    def answer(self) -> tuple[C, Any, tuple[str, float] | BaseException]:
        """The chunk in the air, what was kept of it, and its answer (waiting for it):
        the import id and when it came, or what the submission raised."""
        assert self._future is not None and self.chunk is not None
        future, chunk, kept = self._future, self.chunk, self._kept
        self._future, self.chunk, self._kept = None, None, None
        try:
            return chunk, kept, future.result()
        except BaseException as exc:  # handed to the loop, which decides
            return chunk, kept, exc

    def close(self) -> None:
        """Wait for a submission still in the air (its import is then followed by no
        one: a later run sends its records again) and stop the thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


@dataclass
class Pause(Finished[Any, Any]):
    """Yielded by a pausable :func:`run_imports` instead of sleeping: resume it once
    the clock reads ``until``. Not an import."""

    until: float = 0.0


_END: Any = object()

#: Yielded by :func:`run_imports` (when asked) once every chunk is submitted: not an
#: import, compare with ``is``.
DRAINED: Finished[Any, Any] = Finished(chunk=None, import_id=None, report=None)
