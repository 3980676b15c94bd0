"""The bulk-import pipeline, written once: chunk, submit, poll, settle.

Contacts and orders both stream their records into Dotdigital's asynchronous imports
the same way: records are read only as an import slot frees up; each import keeps
only the few fields that settle its records (:class:`~dotsync.sync.inflight.Kept`),
never the payloads; an import that ends is settled in the ledger at once, a slice at
a time, before the next one is waited for. Subclasses say what differs: how a record
is serialised and chunked, which endpoint takes it, what a failure in the report
means for it.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.wire import SerializedChunk
from dotsync.sync.imports import DRAINED, Finished, Pause, run_imports
from dotsync.sync.inflight import Kept
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import describe, error_code

T = TypeVar("T")  # a record as the step hands it over
X = TypeVar("X")  # what settling an import hands back (e.g. the records to retry)

#: What a paused pipeline yields when it waits to be driven by :meth:`InFlight.finish`.
FOREGROUND = math.inf

#: A record (as :meth:`BulkImport.unpack` rebuilt it) with its outcome.
Settled = tuple[dict[str, Any], Outcome]


class KeptRows(Protocol):
    """What an import in flight keeps of its records (:class:`Kept`, or a file)."""

    def __len__(self) -> int: ...

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]: ...


class BulkImport(ABC, Generic[T, X]):
    """One kind of import (contacts, insight records) driven through :func:`run_imports`."""

    #: What an import is called in the ledger's messages ("contact import").
    what: str
    #: The fields kept per record while its import runs (what settling needs).
    fields: tuple[str, ...]

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: Followed from another pipeline's wait (:meth:`InFlight.step_until`).
        self.in_background = False

    # -- what differs ---------------------------------------------------------------

    @abstractmethod
    def pack(self, item: T) -> tuple[Any, ...]:
        """What settling ``item`` needs, in the order of :attr:`fields`."""

    def unpack(self, kept: dict[str, Any]) -> dict[str, Any]:
        """A kept record as settling reads it (the inverse of any packing)."""
        return kept

    @abstractmethod
    def payload(self, item: T) -> Any:
        """What goes into the import for ``item``."""

    @abstractmethod
    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        """``payloads`` cut into imports of at most ``options.import_max_bytes``."""

    @abstractmethod
    def submit(self, chunk: Sequence[Any]) -> str: ...

    @abstractmethod
    def status(self, import_id: str) -> Any: ...

    @abstractmethod
    def in_flight(self) -> int:
        """How many of these imports Dotdigital lets run at once."""

    @abstractmethod
    def succeeded(self, report: Any) -> bool:
        """Whether the import ended in a state whose per-record failures can be read."""

    @abstractmethod
    def failures(self, report: Any) -> Mapping[Any, Any]:
        """The report's per-record failures, by what :meth:`settle_finished` looks up."""

    @abstractmethod
    def too_large(self, size: int) -> Outcome:
        """The outcome of a record bigger than one import may carry."""

    @abstractmethod
    def settle(self, outcomes: Sequence[Settled]) -> None:
        """Write outcomes to the ledger and the report."""

    @abstractmethod
    def settle_finished(self, import_id: str | None, failures: Mapping[Any, Any],
                        rows: list[dict[str, Any]]) -> list[X]:
        """Settle a slice of a successful import's records; returns what to retry."""

    # -- which records a chunk holds ------------------------------------------------
    # Records are kept in the order they were serialised; chunks keep that order, so
    # each chunk takes its records from the front. A kind of import whose chunks
    # interleave (one per collection) keeps one such queue per chunk target instead.

    def remember(self, item: T) -> None:
        """Keep what settling ``item`` needs, as it is handed to the chunker."""
        self._order.append(self.pack(item))

    def forget(self, payload: Any) -> tuple[Any, ...]:
        """What was kept of ``payload``, the record just read, which reaches no chunk."""
        return self._order.pop()

    def take(self, chunk: Sequence[Any]) -> list[tuple[Any, ...]]:
        """What was kept of the records of ``chunk``, just submitted."""
        return [self._order.popleft() for _ in range(len(chunk))]

    def sent(self, chunk: Sequence[Any]) -> None:
        """``chunk`` was accepted (called on the submitting thread): a body built in
        memory goes now, not when the import is settled."""
        if isinstance(chunk, SerializedChunk):
            chunk.release()

    def ahead(self) -> int:
        """How many chunks may be built before they can be submitted while every import
        slot is taken (one: the next, in memory). More go through :meth:`hold`."""
        return 1

    def hold(self, chunk: Sequence[Any]) -> Sequence[Any]:
        """A chunk built ahead, as it waits for a slot (e.g. moved to disk); used when
        :meth:`ahead` is more than one."""
        return chunk

    def keep(self, chunk: Sequence[Any]) -> KeptRows:
        """What the import of ``chunk`` holds while it runs: its records' settle fields,
        compactly (the chunk itself is let go once submitted)."""
        return Kept(self.fields, self.take(chunk))

    # -- the pipeline ---------------------------------------------------------------

    def run(self, items: Iterable[T]) -> list[X]:
        """Send ``items`` (a stream of any length) through imports; settle each as it ends.

        Returns what :meth:`settle_finished` handed back for every import.
        """
        return self.start(items).finish()

    def start(self, items: Iterable[T]) -> InFlight[X]:
        """Read and submit every record of ``items`` (settling the imports that end
        meanwhile) and return with the last imports still in flight: the caller may work
        on something else while they run, then :meth:`InFlight.finish` settles them."""
        return InFlight(self._pipeline(items), self.ctx, self)

    def _pipeline(self, items: Iterable[T]) -> Generator[float | None, None, list[X]]:
        """The pipeline. It never sleeps: it yields until when it would (a clock time),
        None once, when every record has been submitted, and :data:`FOREGROUND` while
        followed in the background with an import that ended badly: its records are
        settled ``failed`` only by :meth:`InFlight.finish`, in the step that owns them
        (a step is retried for its own transient failures, not another's)."""
        options = self.ctx.options
        self._order: deque[tuple[Any, ...]] = deque()

        def stream() -> Iterator[Any]:
            for item in items:
                payload = self.payload(item)
                self.remember(item)
                yield payload

        def oversize(payload: Any, size: int) -> None:
            # The one just read: it never reaches a chunk.
            row = self.unpack(dict(zip(self.fields, self.forget(payload), strict=True)))
            self.settle([(row, self.too_large(size))])

        out: list[X] = []
        for done in run_imports(
            self.chunks(stream(), oversize),
            submit=self.submit,
            status=self.status,
            max_in_flight=self.in_flight(),
            poll_interval=options.poll_interval,
            keep=self.keep,
            max_records_in_flight=options.records_in_flight,
            pausable=True,
            background=True,
            sent=self.sent,
            ahead=self.ahead(),
            hold=self.hold if self.ahead() > 1 else None,
        ):
            if isinstance(done, Pause):
                yield done.until
                continue
            if done is DRAINED:
                yield None
                continue
            failpoints.hit("after_import_report")
            if isinstance(done.error, dd.AuthenticationError):
                raise done.error
            ended = self.ended_badly(done)
            while ended is not None and self.in_background:
                yield FOREGROUND
            failures = self.failures(done.report) if ended is None else {}
            for batch in done.chunk.batches(options.settle_batch):
                rows = [self.unpack(row) for row in batch]
                if ended is not None:
                    self.settle([(row, ended) for row in rows])
                else:
                    out += self.settle_finished(done.import_id, failures, rows)
        return out

    def ended_badly(self, done: Finished[Any, Any]) -> Outcome | None:
        """The outcome of every record of an import that could not be followed to its
        end or did not succeed as a whole; None when its report says record by record."""
        if done.error is not None or done.report is None:
            return Outcome("failed", error_code(done.error), describe(done.error),
                           reference=done.import_id)
        if not self.succeeded(done.report):
            status = done.report.status
            return Outcome("failed", status, f"{self.what} {done.import_id} ended {status}",
                           reference=done.import_id)
        return None


class InFlight(Generic[X]):
    """Imports submitted by :meth:`BulkImport.start` and not all settled yet.

    Holds the paused pipeline. While it waits for a poll to come due, other work may
    run: :meth:`finish` waits through :meth:`RunContext.wait_until`, which meanwhile
    follows the other imports in flight (:meth:`step_until`), so a contact import
    submitted earlier is polled and settled while an insight import waits; what
    :meth:`finish` then finds ended is settled at once.
    """

    def __init__(self, pipeline: Generator[float | None, None, list[X]],
                 ctx: RunContext, owner: BulkImport[Any, X]) -> None:
        self._pipeline = pipeline
        self._ctx = ctx
        self._owner = owner
        self._result: list[X] | None = None
        #: When the pipeline next wants to run (a clock time); None: at once.
        self._due: float | None = None
        #: Being driven now (no re-entry from a wait inside it).
        self._busy = False
        #: What the pipeline raised while followed from another's wait: raised again
        #: by :meth:`finish`.
        self._error: BaseException | None = None
        #: The pipeline raised: its imports can no longer be followed.
        self.broken = False
        self._drive(until_drained=True)  # read and submit everything
        if self._result is None:
            ctx.in_flight.append(self)

    @property
    def settled(self) -> bool:
        """Whether every import has ended and been settled."""
        return self._result is not None

    def _advance(self) -> bool:
        """Run the pipeline to its next pause; True once it has been drained or ended."""
        if self.broken:
            raise RuntimeError("these imports can no longer be followed: the pipeline "
                               "that submitted them failed") from self._error
        try:
            until = next(self._pipeline)
        except StopIteration as stop:
            self._result = stop.value
            self._due = None
            return True
        except BaseException:
            self.broken = True
            raise
        self._due = until
        return until is None

    def _drive(self, *, until_drained: bool) -> None:
        self._busy = True
        try:
            while self._result is None:
                if self._due is not None and self._due != FOREGROUND:
                    self._ctx.wait_until(self._due, busy=self)
                if self._advance() and until_drained:
                    return
        finally:
            self._busy = False

    def step_until(self, deadline: float) -> None:
        """Poll and settle what comes due before ``deadline`` (a clock time), waiting no
        longer than that; nothing when the pipeline is being driven already. An error
        is kept for :meth:`finish`."""
        if self._busy or self.broken or self._result is not None:
            return
        self._busy = True
        self._owner.in_background = True
        try:
            while self._result is None and (self._due is None or self._due <= deadline):
                remaining = (self._due or 0.0) - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
                self._advance()
        except Exception as exc:
            self._error = exc
        finally:
            self._busy = False
            self._owner.in_background = False

    def finish(self) -> list[X]:
        """Wait for the imports still in flight and settle them; returns what
        :meth:`BulkImport.settle_finished` handed back for every import."""
        try:
            if self._error is not None:
                raise self._error
            self._drive(until_drained=False)
        finally:
            if self in self._ctx.in_flight and (self._result is not None or self.broken):
                self._ctx.in_flight.remove(self)
        assert self._result is not None
        return self._result
