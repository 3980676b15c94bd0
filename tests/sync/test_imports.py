"""Keeping bulk imports in flight: limits, laziness, throttling, time-outs (fake clock)."""

from __future__ import annotations

from dataclasses import dataclass

from dotsync.dotdigital.errors import ImportWaitTimeout, RateLimitedError, ServerError
from dotsync.sync.imports import run_imports


@dataclass
class Report:
    status: str


class FakeDotdigital:
    """Imports that finish ``duration`` seconds after submission, on a fake clock."""

    def __init__(self, duration: float, limit: int = 25) -> None:
        self.now = 0.0
        self.duration = duration
        self.limit = limit
        self.started: dict[str, float] = {}
        self.active_peak = 0
        self.polls = 0
        self.refuse_next = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def active(self) -> int:
        return sum(1 for t in self.started.values() if self.now < t + self.duration)

    def submit(self, chunk: list[int]) -> str:
        if self.refuse_next:
            self.refuse_next -= 1
            raise RateLimitedError("too many active imports", status=429)
        assert self.active() < self.limit, "more imports in flight than allowed"
        import_id = f"imp{len(self.started)}"
        self.started[import_id] = self.now
        self.active_peak = max(self.active_peak, self.active())
        return import_id

    def status(self, import_id: str) -> Report:
        self.polls += 1
        done = self.now >= self.started[import_id] + self.duration
        return Report("Finished" if done else "NotFinished")


def test_every_chunk_finishes_once_and_the_limit_holds():
    dd = FakeDotdigital(duration=12, limit=5)
    chunks = [[i] for i in range(23)]
    done = list(
        run_imports(
            chunks,
            dd.submit,
            dd.status,
            max_in_flight=5,
            poll_interval=5,
            sleep=dd.sleep,
            clock=dd.clock,
        )
    )
    assert sorted(d.chunk[0] for d in done) == list(range(23))
    assert all(d.report.status == "Finished" for d in done)
    assert dd.active_peak == 5
    assert dd.polls <= 23 * 3  # polled every 5 s: at most three polls for a 12 s import


def test_chunks_are_read_only_when_a_slot_is_nearly_free():
    dd = FakeDotdigital(duration=30, limit=2)
    read: list[int] = []

    def source():
        for i in range(10):
            read.append(i)
            yield [i]

    stream = run_imports(
        source(),
        dd.submit,
        dd.status,
        max_in_flight=2,
        poll_interval=30,
        sleep=dd.sleep,
        clock=dd.clock,
        keep=lambda c: c[0],
    )
    first = next(stream)
    assert first.chunk in (0, 1)
    assert len(read) <= 4  # two in flight, one prepared ahead, one just submitted
    rest = list(stream)
    assert len(rest) == 9


def test_polls_at_the_slowest_cadence_cost_one_poll_per_import():
    dd = FakeDotdigital(duration=20, limit=25)
    list(
        run_imports(
            [[i] for i in range(6)],
            dd.submit,
            dd.status,
            max_in_flight=25,
            poll_interval=30,
            sleep=dd.sleep,
            clock=dd.clock,
        )
    )
    assert dd.polls == 6


def test_a_429_on_submission_waits_for_a_round_and_loses_nothing():
    dd = FakeDotdigital(duration=5, limit=25)
    dd.refuse_next = 2
    done = list(
        run_imports(
            [[1], [2], [3]],
            dd.submit,
            dd.status,
            max_in_flight=25,
            poll_interval=5,
            sleep=dd.sleep,
            clock=dd.clock,
        )
    )
    assert sorted(d.chunk[0] for d in done) == [1, 2, 3]
    assert all(d.error is None for d in done)


def test_a_failed_submission_is_reported_for_its_chunk_only():
    dd = FakeDotdigital(duration=5)

    def submit(chunk):
        if chunk == [2]:
            raise ServerError("boom", status=500)
        return dd.submit(chunk)

    done = list(
        run_imports(
            [[1], [2], [3]],
            submit,
            dd.status,
            max_in_flight=25,
            poll_interval=5,
            sleep=dd.sleep,
            clock=dd.clock,
        )
    )
    errors = {d.chunk[0]: d.error for d in done}
    assert isinstance(errors[2], ServerError)
    assert errors[1] is None and errors[3] is None


def test_an_import_that_never_finishes_is_given_up_as_transient():
    dd = FakeDotdigital(duration=10_000)
    (done,) = list(
        run_imports(
            [[1]],
            dd.submit,
            dd.status,
            max_in_flight=1,
            poll_interval=30,
            max_wait=300,
            sleep=dd.sleep,
            clock=dd.clock,
        )
    )
    assert isinstance(done.error, ImportWaitTimeout)
    assert done.error.transient


def test_records_in_flight_are_bounded():
    dd = FakeDotdigital(duration=10, limit=25)
    peak = {"records": 0}
    in_flight: dict[str, int] = {}

    def submit(chunk):
        import_id = dd.submit(chunk)
        in_flight[import_id] = len(chunk)
        active = sum(n for i, n in in_flight.items() if dd.now < dd.started[i] + dd.duration)
        peak["records"] = max(peak["records"], active)
        return import_id

    chunks = [list(range(40)) for _ in range(10)]
    done = list(run_imports(chunks, submit, dd.status, max_in_flight=25, poll_interval=5,
                            sleep=dd.sleep, clock=dd.clock, max_records_in_flight=100))
    assert len(done) == 10
    assert peak["records"] <= 100  # two chunks of 40 at a time, never three
