"""Client-side pacing: stay under the account's call budget instead of hitting 429s.

Dotdigital limits calls per account (the lowest tier allows 35 per minute, and bulk imports
count against it). Hitting the limit costs a wasted call and a wait; pacing spreads calls
evenly so a long run never trips it. The pacer is a GCRA token bucket: ``calls_per_minute``
sets the steady rate and ``burst`` how many calls may go back-to-back after a quiet spell
(default 1, i.e. a plain minimum interval between calls).

Independently of the budget, Dotdigital can tell us it is out of calls
(``X-RateLimit-Remaining: 0`` with a reset time); :meth:`Pacer.hold_until` then makes the
next call wait for the reset rather than spend itself on a certain 429.

Thread-safe: concurrent callers each reserve their own slot under a lock and sleep outside
it. ``clock``/``sleep`` are injectable so tests run on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Pacer"]


class Pacer:
    """Reserve a slot for each call; :meth:`acquire` sleeps until the slot comes."""

    def __init__(
        self,
        calls_per_minute: float | None = None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls_per_minute is not None and calls_per_minute <= 0:
            raise ValueError("calls_per_minute must be positive (or None for no pacing)")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.calls_per_minute = calls_per_minute
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._interval = 60.0 / calls_per_minute if calls_per_minute else 0.0
        self._tat: float | None = None  # GCRA "theoretical arrival time"
        self._hold_until = 0.0
        self.paced_seconds = 0.0  # waited to keep to calls_per_minute
        self.held_seconds = 0.0  # waited because Dotdigital said the budget was spent

    def hold_until(self, when: float) -> None:
        """Make no call before ``when`` (same clock as ``clock``; later holds win)."""
        with self._lock:
            self._hold_until = max(self._hold_until, when)

    def acquire(self) -> float:
        """Wait for this call's slot; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = now
            if self._interval:
                tat = now if self._tat is None else max(self._tat, now)
                slot = max(now, tat - (self.burst - 1) * self._interval)
                self._tat = tat + self._interval
            hold_wait = max(0.0, self._hold_until - slot)
            pace_wait = slot - now
            self.paced_seconds += pace_wait
            self.held_seconds += hold_wait
            if hold_wait and self._tat is not None:
                # The hold pushes the schedule back: the budget restarts after the reset.
                self._tat += hold_wait
        wait = pace_wait + hold_wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"Pacer(calls_per_minute={self.calls_per_minute!r}, burst={self.burst})"
