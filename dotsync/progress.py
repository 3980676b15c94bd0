"""A progress line on the terminal for long commands (``load``, ``sync``, ``backfill``).

One line on stderr, rewritten in place at most twice a second: records done, the rate
and, when the total is known, the time left. Only on a terminal: when stderr is not a
TTY (a scheduler, a pipe, a log file) or the command prints ``--json`` (the CLI sets
``DOTSYNC_PROGRESS=0``), nothing is written.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO

ENV = "DOTSYNC_PROGRESS"


def wanted(stream: IO[str]) -> bool:
    if os.environ.get(ENV, "").strip() == "0":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressLine:
    """``update(done)`` with a running total, or ``add(n)`` per batch; ``close()`` ends
    the line. Does nothing at all when :func:`wanted` says no."""

    def __init__(self, label: str, total: int | None = None, *, unit: str = "records",
                 stream: IO[str] | None = None, clock=time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = wanted(self.stream)
        self.label, self.total, self.unit, self.clock = label, total, unit, clock
        self.done = 0
        self.started = clock()
        self._shown_at = float("-inf")
        self._width = 0

    def add(self, count: int) -> None:
        self.update(self.done + count)

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self._shown_at < 0.5:
            return
        self._shown_at = now
        self._write(self.text(now))

    def text(self, now: float | None = None) -> str:
        elapsed = max(1e-9, (self.clock() if now is None else now) - self.started)
        rate = self.done / elapsed
        parts = [f"{self.label}: {self.done:,}"
                 + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"]
        if self.total:
            parts.append(f"{min(100.0, 100.0 * self.done / self.total):.0f}%")
        parts.append(f"{rate:,.0f}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"about {_duration((self.total - self.done) / rate)} left")
        return ", ".join(parts)

    def _write(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.update(self.done, force=True)
            self.stream.write("\n")
            self.stream.flush()
