"""Calls made a few at a time: answers in order, failures handed back, really at once."""

from __future__ import annotations

import threading

import pytest

from dotsync.sync.steps.calls import call_all


def test_answers_come_back_in_the_items_order_with_failures_handed_back() -> None:
    def call(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n * 10

    answers = call_all(4, call, list(range(6)))
    assert [a.value for a in answers] == [0, 10, 20, None, 40, 50]
    assert [type(a.error).__name__ if a.error else None for a in answers] == [
        None, None, None, "ValueError", None, None]


@pytest.mark.parametrize("width", [2, 3])
def test_width_calls_run_at_once(width: int) -> None:
    # Each call waits for `width` callers at the barrier: only calls made at the same
    # time get through (one after another, the first would wait for the timeout).
    barrier = threading.Barrier(width, timeout=30)
    seen: list[str] = []

    def call(n: int) -> int:
        barrier.wait()
        seen.append(threading.current_thread().name)
        return n

    answers = call_all(width, call, list(range(width * 2)))
    assert [a.error for a in answers] == [None] * (width * 2)
    assert [a.value for a in answers] == list(range(width * 2))
    assert threading.current_thread().name not in seen


def test_no_more_than_width_at_once() -> None:
    lock = threading.Lock()
    now = [0]
    most = [0]

    def call(n: int) -> int:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        with lock:
            now[0] -= 1
        return n

    call_all(3, call, list(range(50)))
    assert most[0] <= 3


def test_width_one_calls_in_the_callers_thread_one_after_another() -> None:
    names: list[str] = []

    def call(n: int) -> int:
        names.append(threading.current_thread().name)
        return n

    assert [a.value for a in call_all(1, call, [1, 2, 3])] == [1, 2, 3]
    assert set(names) == {threading.current_thread().name}
