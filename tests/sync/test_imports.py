"""Keeping bulk imports in flight: limits, laziness, throttling, time-outs (fake clock)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from dotsync.dotdigital.errors import (
    AuthenticationError,
    ImportWaitTimeout,
    RateLimitedError,
    ServerError,
)
from dotsync.sync.imports import run_imports


@pytest.fixture(params=[False, True], ids=["inline", "background"])
def background(request: pytest.FixtureRequest) -> bool:
    """Every behaviour holds whether submissions are made inline or from a worker
    thread while the next chunk is built."""
    return bool(request.param)


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


def test_every_chunk_finishes_once_and_the_limit_holds(background):
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
            background=background,
        )
    )
    assert sorted(d.chunk[0] for d in done) == list(range(23))
    assert all(d.report.status == "Finished" for d in done)
    assert dd.active_peak == 5
    assert dd.polls <= 23 * 3  # polled every 5 s: at most three polls for a 12 s import


def test_chunks_are_read_only_when_a_slot_is_nearly_free(background):
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
        background=background,
    )
    first = next(stream)
    assert first.chunk in (0, 1)
    assert len(read) <= 4  # two in flight, one prepared ahead, one just submitted
    rest = list(stream)
    assert len(rest) == 9


def test_polls_at_the_slowest_cadence_cost_one_poll_per_import(background):
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
            background=background,
        )
    )
    assert dd.polls == 6


def test_a_429_on_submission_waits_for_a_round_and_loses_nothing(background):
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
            background=background,
        )
    )
    assert sorted(d.chunk[0] for d in done) == [1, 2, 3]
    assert all(d.error is None for d in done)


def test_a_failed_submission_is_reported_for_its_chunk_only(background):
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
            background=background,
        )
    )
    errors = {d.chunk[0]: d.error for d in done}
    assert isinstance(errors[2], ServerError)
    assert errors[1] is None and errors[3] is None


def test_an_import_that_never_finishes_is_given_up_as_transient(background):
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
            background=background,
        )
    )
    assert isinstance(done.error, ImportWaitTimeout)
    assert done.error.transient


def test_records_in_flight_are_bounded(background):
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
                            sleep=dd.sleep, clock=dd.clock, max_records_in_flight=100,
                            background=background))
    assert len(done) == 10
    assert peak["records"] <= 100  # two chunks of 40 at a time, never three


def test_the_next_chunk_is_built_while_a_submission_is_in_the_air():
    """In the background, the body of one import is sent while the next is built: the
    fake submission waits (bounded) until the source has handed over the next chunk."""
    dd = FakeDotdigital(duration=5, limit=25)
    built = [threading.Event() for _ in range(4)]
    overlapped: list[bool] = []
    threads: set[str] = set()

    def source():
        for i in range(4):
            built[i].set()
            yield [i]

    def submit(chunk):
        threads.add(threading.current_thread().name)
        i = chunk[0]
        if i < 3:
            overlapped.append(built[i + 1].wait(timeout=5))
        return dd.submit(chunk)

    done = list(run_imports(source(), submit, dd.status, max_in_flight=25, poll_interval=5,
                            sleep=dd.sleep, clock=dd.clock, background=True))
    assert sorted(d.chunk[0] for d in done) == [0, 1, 2, 3]
    assert overlapped == [True, True, True]
    assert threads == {"dotsync-submit_0"}
    assert not [t for t in threading.enumerate() if t.name.startswith("dotsync-submit")]


def test_in_the_background_chunks_are_kept_in_order_and_let_go_once_accepted():
    """``keep`` sees each chunk once, in the order they were built, before the next is
    built (what settling needs is compact meanwhile), a 429 included: the refused chunk
    goes again first, is not kept twice and not let go; ``sent`` is called only for
    what Dotdigital accepted."""
    dd = FakeDotdigital(duration=5, limit=25)
    dd.refuse_next = 0
    kept: list[int] = []
    released: list[int] = []
    refused = {"left": 1}

    def submit(chunk):
        if chunk[0] == 1 and refused["left"]:
            refused["left"] -= 1
            raise RateLimitedError("too many active imports", status=429)
        return dd.submit(chunk)

    def source():
        for i in range(5):
            assert kept == list(range(i)), "the chunk before was kept before this one"
            yield [i]

    def keep(chunk):
        kept.append(chunk[0])
        return chunk

    done = list(run_imports(source(), submit, dd.status, max_in_flight=25,
                            poll_interval=5, sleep=dd.sleep, clock=dd.clock, keep=keep,
                            background=True, sent=lambda c: released.append(c[0])))
    assert kept == [0, 1, 2, 3, 4]
    assert released == [0, 1, 2, 3, 4]
    assert sorted(d.chunk[0] for d in done) == [0, 1, 2, 3, 4]
    assert all(d.error is None for d in done)


def test_in_the_background_a_failed_submission_is_reported_and_an_auth_error_raised():
    dd = FakeDotdigital(duration=5)

    def submit(chunk):
        if chunk == [2]:
            raise ServerError("boom", status=500)
        return dd.submit(chunk)

    done = list(run_imports([[1], [2], [3]], submit, dd.status, max_in_flight=25,
                            poll_interval=5, sleep=dd.sleep, clock=dd.clock,
                            background=True))
    errors = {d.chunk[0]: d.error for d in done}
    assert isinstance(errors[2], ServerError)
    assert errors[1] is None and errors[3] is None

    def refuse(chunk):
        raise AuthenticationError("bad credentials", status=401)

    with pytest.raises(AuthenticationError):
        list(run_imports([[1], [2]], refuse, dd.status, max_in_flight=25, poll_interval=5,
                         sleep=dd.sleep, clock=dd.clock, background=True))
    assert not [t for t in threading.enumerate() if t.name.startswith("dotsync-submit")]


def test_closing_the_stream_waits_for_the_submission_in_the_air():
    dd = FakeDotdigital(duration=5)
    release = threading.Event()
    submitted: list[int] = []

    def submit(chunk):
        release.wait(timeout=5)
        submitted.append(chunk[0])
        return dd.submit(chunk)

    def source():
        yield [1]
        release.set()
        raise RuntimeError("the source failed while the first chunk was being sent")

    with pytest.raises(RuntimeError, match="source failed"):
        list(run_imports(source(), submit, dd.status, max_in_flight=25, poll_interval=5,
                         sleep=dd.sleep, clock=dd.clock, background=True))
    assert submitted == [1]
    assert not [t for t in threading.enumerate() if t.name.startswith("dotsync-submit")]
