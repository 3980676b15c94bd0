"""Small calls made a few at a time, so one call's latency overlaps the others'.

Program enrolments take 25 contacts a call and their fault reports are read one call
per enrolment: thousands of abandoned carts are hundreds of small calls, each mostly
waiting for Dotdigital's answer. One after another, 600 of them at 50 ms are 30 s of a
5-minute schedule. Here only the HTTP calls run on worker threads; the caller keeps
every ledger write (claims before the calls, settles after, in order) on its own
thread, so the exactly-once order and the failpoints between claim, call and settle
are what they were, and the store sees one writer. Every call still takes the
client's pacer slot (and the flows' shared rate limit), both thread-safe: the account's
call budget holds whatever the width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

@dataclass(frozen=True, slots=True)
class Answer(Generic[R]):
    """One call's answer: its value, or the exception it raised."""

    value: R | None = None
    error: Exception | None = None


def call_all(width: int, call: Callable[[T], R], items: Sequence[T]) -> list[Answer[R]]:
    """``call(item)`` for each item, up to ``width`` at once; the answers in the items'
    order once all are in. An exception is handed back, never raised here: the caller
    settles the calls that went through before it decides what a failure means."""
    if width <= 1 or len(items) <= 1:
        return [_answer_now(call, item) for item in items]
    with ThreadPoolExecutor(max_workers=min(width, len(items)),
                            thread_name_prefix="dotsync-call") as pool:
        futures = [pool.submit(call, item) for item in items]
        return [_answer(f) for f in futures]


def _answer_now(call: Callable[[T], R], item: T) -> Answer[R]:
    try:
        return Answer(call(item))
    except Exception as exc:
        return Answer(error=exc)


def _answer(future: Future[R]) -> Answer[R]:
    try:
        return Answer(future.result())
    except Exception as exc:
        return Answer(error=exc)
