"""The API call budget of one reconciliation (``--max-calls``).

Counted from the client's own call statistics, so retries of a read count too: the
budget bounds what Dotdigital sees, not what dotsync meant to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class BudgetExhausted(Exception):
    """The next call would go over the budget; what was read so far still counts."""


class CallBudget:
    """Calls made through ``client`` since this budget was created, capped at ``limit``."""

    def __init__(self, client: Any, limit: int,
                 on_take: Callable[[], None] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"max_calls must be at least 1, got {limit}")
        self.client = client
        self.limit = limit
        #: Told before each call (the terminal's progress line follows the run so).
        self.on_take = on_take
        self._start = self._total()

    def _total(self) -> int:
        return sum(self.client.stats.calls.values())

    @property
    def used(self) -> int:
        return self._total() - self._start

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def take(self, what: str) -> None:
        """Call before each call: raises :class:`BudgetExhausted` when none is left."""
        if self.on_take is not None:
            self.on_take()
        if self.used >= self.limit:
            raise BudgetExhausted(f"call budget of {self.limit} reached before {what}")
