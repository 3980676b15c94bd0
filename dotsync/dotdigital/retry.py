"""The retry and rate-limit policy: each decision a small pure function.

The transport (:mod:`.transport`) asks these functions what to do and does it; none of them
sleeps, sends or logs, so each is tested on its own with plain values (in the manner of the
Stainless SDKs' ``_base_client``: ``_should_retry``, ``_calculate_retry_timeout``).

The rules, from Dotdigital's documented behaviour:

* A 429 means "not processed": every kind of call may wait for the reset and try again,
  unless the wait is beyond the bound the caller set. An import submission answered 429
  with no reset time ("too many active imports") is not retried: only the end of an
  import in flight frees a slot, and the caller knows those.
* 5xx, timeouts and dropped connections are retried only for idempotent calls (reads,
  PUT/PATCH upserts, DELETE, status polls). Import submissions create a new job each time
  and triggered-campaign sends e-mail the customer again.
* A connection that never opened carried nothing, so that is retried for every kind.
* ``X-RateLimit-Remaining: 0`` with a reset time holds the next call until the reset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import httpx

from dotsync.dotdigital.errors import DotdigitalError, RateLimitedError, ServerError

__all__ = [
    "IDEMPOTENT",
    "SEND",
    "SUBMIT",
    "Kind",
    "RetryPolicy",
    "backoff_delay",
    "budget_hold_until",
    "may_have_been_sent",
    "rate_limit_info",
    "rate_limit_wait",
    "retry_error",
    "retry_unanswered",
]

Kind = Literal["idempotent", "submit", "send"]
IDEMPOTENT: Final = "idempotent"
SUBMIT: Final = "submit"  # PUT …/import, POST …/delete: each call creates a new job
SEND: Final = "send"  # triggered-campaign sends: a repeat e-mails the customer again

#: Connection failures that happen before any byte of the request left: safe to repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry and how long to wait (seconds)."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_rate_limit_wait: float = 900.0
    rate_limit_margin: float = 1.0  # added to a reset time, for clock skew
    default_rate_limit_wait: float = 30.0  # a 429 that says nothing about its reset

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")


def may_have_been_sent(exc: httpx.HTTPError) -> bool:
    """False only when the connection never opened, so no byte of the request left."""
    return not isinstance(exc, _NOT_SENT)


def retry_unanswered(kind: Kind, maybe_sent: bool) -> bool:
    """Whether a call that got no answer may be repeated (attempts left aside)."""
    return kind == IDEMPOTENT or not maybe_sent


def retry_error(error: DotdigitalError, kind: Kind, headers: Mapping[str, str]) -> str | None:
    """How to retry a call answered with ``error``: ``"reset"`` (wait for the rate-limit
    reset), ``"backoff"`` (jittered back-off), or ``None`` (raise it)."""
    if isinstance(error, RateLimitedError):
        if kind == SUBMIT and error.reset_at is None and "Retry-After" not in headers:
            return None  # "too many active imports": no reset to wait for
        return "reset"
    if isinstance(error, ServerError) and kind == IDEMPOTENT:
        return "backoff"
    return None


def backoff_delay(attempt: int, policy: RetryPolicy, unit_random: Callable[[], float]
                  ) -> float:
    """Seconds to wait before retry ``attempt + 1``: between half and all of
    ``min(backoff_max, backoff_base * 2**attempt)`` ("equal jitter")."""
    ceiling: float = min(policy.backoff_max, policy.backoff_base * (2**attempt))
    return ceiling / 2 + unit_random() * ceiling / 2


def _number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def rate_limit_info(headers: Mapping[str, str], now: float) -> dict[str, Any]:
    """The ``X-RateLimit-*`` headers as :class:`RateLimitedError` takes them.

    ``X-RateLimit-Reset`` is an epoch time, or a delta in seconds when below 1e9.
    """
    reset = _number(headers, "X-RateLimit-Reset")
    if reset is not None and reset < 1e9:  # a delta in seconds, not an epoch time
        reset = now + reset
    limit = _number(headers, "X-RateLimit-Limit")
    remaining = _number(headers, "X-RateLimit-Remaining")
    return {
        "reset_at": datetime.fromtimestamp(reset, UTC) if reset is not None else None,
        "limit": int(limit) if limit is not None else None,
        "remaining": int(remaining) if remaining is not None else None,
        "scope": headers.get("X-RateLimit-Scope"),
    }


def rate_limit_wait(reset_at: datetime | None, headers: Mapping[str, str], now: float,
                    policy: RetryPolicy) -> float | None:
    """Seconds to wait before retrying a 429, or ``None`` when that is beyond the bound.

    The reset time (plus the margin) when known, else ``Retry-After``, else the default.
    """
    if reset_at is not None:
        wait = max(0.0, reset_at.timestamp() - now) + policy.rate_limit_margin
    else:
        retry_after = _number(headers, "Retry-After")
        wait = policy.default_rate_limit_wait if retry_after is None else retry_after
    return wait if wait <= policy.max_rate_limit_wait else None


def budget_hold_until(headers: Mapping[str, str], now: float, policy: RetryPolicy
                      ) -> float | None:
    """When a response says the call budget is spent (``X-RateLimit-Remaining: 0`` with a
    reset), the time before which no call should go; ``None`` to go on."""
    if headers.get("X-RateLimit-Remaining", "").strip() != "0":
        return None
    reset_at = rate_limit_info(headers, now)["reset_at"]
    if reset_at is None:
        return None
    until = min(reset_at.timestamp() + policy.rate_limit_margin,
                now + policy.max_rate_limit_wait)
    return until if until > now else None
