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

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.sync.imports import Finished, run_imports
from dotsync.sync.inflight import Kept
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import describe, error_code

T = TypeVar("T")  # a record as the step hands it over
X = TypeVar("X")  # what settling an import hands back (e.g. the records to retry)

#: A record (as :meth:`BulkImport.unpack` rebuilt it) with its outcome.
Settled = tuple[dict[str, Any], Outcome]


class BulkImport(ABC, Generic[T, X]):
    """One kind of import (contacts, insight records) driven through :func:`run_imports`."""

    #: What an import is called in the ledger's messages ("contact import").
    what: str
    #: The fields kept per record while its import runs (what settling needs).
    fields: tuple[str, ...]

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

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

    # -- the pipeline ---------------------------------------------------------------

    def run(self, items: Iterable[T]) -> list[X]:
        """Send ``items`` (a stream of any length) through imports; settle each as it ends.

        Returns what :meth:`settle_finished` handed back for every import.
        """
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
            keep=lambda chunk: Kept(self.fields, self.take(chunk)),
            max_records_in_flight=options.records_in_flight,
        ):
            failpoints.hit("after_import_report")
            if isinstance(done.error, dd.AuthenticationError):
                raise done.error
            ended = self.ended_badly(done)
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
