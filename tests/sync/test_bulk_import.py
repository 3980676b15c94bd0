"""The bulk-import pipeline that contacts and orders share, on a fake endpoint: every
record is settled once, in its import's outcome, and only what settling needs is
kept while an import runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from dotsync.dotdigital import errors as dd
from dotsync.sync.steps.bulk_import import BulkImport, Settled
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.options import Options
from dotsync.sync.steps.outcome import Outcome


@dataclass
class Report:
    status: str
    failures: dict[str, str] = field(default_factory=dict)


def fake_context(poll_interval: float = 0.0) -> Any:
    """The little of a RunContext the pipeline uses; its waits are RunContext's own."""
    ctx = SimpleNamespace(options=Options(poll_interval=poll_interval, settle_batch=1),
                          progress=lambda n: None, in_flight=[])
    ctx.wait_until = lambda until, busy=None: RunContext.wait_until(ctx, until, busy)
    return ctx


class FakeImport(BulkImport[dict[str, Any], str]):
    """Records ``{"key", "size"}``; imports of two; a record of size > 10 is too large.
    ``ends`` says how each import ends (by submission order): a status, or an error."""

    what = "fake import"
    fields = ("key",)

    def __init__(self, ends: list[Any], failures: Mapping[str, str] | None = None,
                 ctx: Any = None) -> None:
        super().__init__(ctx or fake_context())
        self.ends = list(ends)
        self.per_record = dict(failures or {})
        self.submitted: list[list[str]] = []
        self.settled: list[tuple[str, Outcome]] = []

    def pack(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return (item["key"],)

    def payload(self, item: dict[str, Any]) -> Any:
        return item

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        chunk: list[Any] = []
        for payload in payloads:
            if payload["size"] > 10:
                on_oversize(payload, payload["size"])
                continue
            chunk.append(payload)
            if len(chunk) == 2:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def submit(self, chunk: Sequence[Any]) -> str:
        end = self.ends[len(self.submitted)]
        self.submitted.append([p["key"] for p in chunk])
        if isinstance(end, Exception):
            raise end
        return f"import-{len(self.submitted)}"

    def status(self, import_id: str) -> Any:
        end = self.ends[int(import_id.split("-")[1]) - 1]
        return Report(end, self.per_record)

    def in_flight(self) -> int:
        return 2

    def succeeded(self, report: Any) -> bool:
        return bool(report.status == "Finished")

    def failures(self, report: Any) -> Mapping[Any, Any]:
        return dict(report.failures)

    def too_large(self, size: int) -> Outcome:
        return Outcome("rejected", "too_large", f"{size} bytes")

    def settle(self, outcomes: Sequence[Settled]) -> None:
        self.settled += [(row["key"], outcome) for row, outcome in outcomes]

    def settle_finished(self, import_id: str | None, failures: Mapping[Any, Any],
                        rows: list[dict[str, Any]]) -> list[str]:
        retry = []
        for row in rows:
            why = failures.get(row["key"])
            if why == "retry":
                retry.append(row["key"])
            elif why:
                self.settle([(row, Outcome("rejected", why, reference=import_id))])
            else:
                self.settle([(row, Outcome("synced", reference=import_id))])
        return retry


def records(*sizes: int) -> list[dict[str, Any]]:
    return [{"key": f"r{i}", "size": size} for i, size in enumerate(sizes)]


def test_every_record_is_settled_once_with_its_imports_reference() -> None:
    job = FakeImport(["Finished", "Finished"], failures={"r1": "Invalid", "r3": "retry"})
    retry = job.run(records(1, 1, 1, 1))
    assert job.submitted == [["r0", "r1"], ["r2", "r3"]]
    assert retry == ["r3"]
    assert dict(job.settled) == {
        "r0": Outcome("synced", reference="import-1"),
        "r1": Outcome("rejected", "Invalid", reference="import-1"),
        "r2": Outcome("synced", reference="import-2")}


def test_an_import_that_ends_badly_fails_each_of_its_records_and_no_other() -> None:
    job = FakeImport(["Finished", "RejectedByWatchdog"])
    assert job.run(records(1, 1, 1)) == []
    outcomes = dict(job.settled)
    assert outcomes["r0"] == outcomes["r1"] == Outcome("synced", reference="import-1")
    assert outcomes["r2"] == Outcome("failed", "RejectedByWatchdog",
                                     "fake import import-2 ended RejectedByWatchdog",
                                     reference="import-2")


def test_a_refused_submission_fails_its_records_with_the_error() -> None:
    job = FakeImport([dd.ServerError("boom", status=503), "Finished"])
    job.run(records(1, 1, 1))
    outcomes = dict(job.settled)
    assert outcomes["r0"].state == outcomes["r1"].state == "failed"
    assert outcomes["r0"].message == "boom"
    assert outcomes["r2"] == Outcome("synced", reference="import-2")


def test_a_record_too_large_for_any_import_is_rejected_and_the_rest_go() -> None:
    job = FakeImport(["Finished"])
    job.run(records(1, 99, 1))
    assert job.submitted == [["r0", "r2"]]
    assert dict(job.settled)["r1"] == Outcome("rejected", "too_large", "99 bytes")
    assert [key for key, _ in job.settled].count("r1") == 1


def test_refused_credentials_stop_the_pipeline() -> None:
    job = FakeImport([dd.AuthenticationError("no", status=401)])
    with pytest.raises(dd.AuthenticationError):
        job.run(records(1, 1))
    assert job.settled == []


def test_a_started_import_is_followed_while_a_later_one_waits_then_finish_hands_back() -> None:
    """``start`` returns once everything is submitted, nothing polled; a later
    pipeline's wait for its own poll polls and settles the earlier imports that came
    due (they were submitted first); ``finish`` then has nothing left to wait for."""
    ctx = fake_context(poll_interval=0.01)
    first = FakeImport(["Finished"], failures={"r1": "retry"}, ctx=ctx)
    flight = first.start(records(1, 1))
    assert first.submitted == [["r0", "r1"]]
    assert first.settled == [] and not flight.settled
    assert ctx.in_flight == [flight]
    second = FakeImport(["Finished"], ctx=ctx)
    assert second.run(records(1)) == []
    assert first.settled == [("r0", Outcome("synced", reference="import-1"))]
    assert flight.settled
    assert flight.finish() == ["r1"]
    assert ctx.in_flight == []


def test_an_error_while_followed_from_another_wait_is_raised_by_finish() -> None:
    ctx = fake_context(poll_interval=0.01)
    first = FakeImport(["Finished"], ctx=ctx)
    first.status = lambda import_id: (_ for _ in ()).throw(  # type: ignore[method-assign]
        dd.AuthenticationError("no", status=401))
    flight = first.start(records(1))
    FakeImport(["Finished"], ctx=ctx).run(records(1))  # its wait polls the first: refused
    with pytest.raises(dd.AuthenticationError):
        flight.finish()
    assert flight.broken and ctx.in_flight == []


def test_an_import_that_ended_badly_is_settled_by_finish_not_from_another_wait() -> None:
    """Its records settle ``failed``: that belongs to the step that owns them (which
    is retried for its own transient failures), not to the step that happened to wait."""
    ctx = fake_context(poll_interval=0.01)
    first = FakeImport(["RejectedByWatchdog"], ctx=ctx)
    polls: list[str] = []
    status = first.status
    first.status = lambda import_id: polls.append(import_id) or status(import_id)  # type: ignore[method-assign]
    flight = first.start(records(1))
    FakeImport(["Finished"], ctx=ctx).run(records(1))  # its wait polls the first
    assert polls == ["import-1"]  # seen to end badly, from the second's wait
    assert first.settled == []
    assert flight.finish() == []
    assert [(key, outcome.state) for key, outcome in first.settled] == [("r0", "failed")]
