"""The retry and rate-limit policy, one pure decision at a time (no HTTP, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dotsync.dotdigital import (
    AuthenticationError,
    ConflictError,
    DotdigitalError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from dotsync.dotdigital.retry import (
    IDEMPOTENT,
    SEND,
    SUBMIT,
    RetryPolicy,
    backoff_delay,
    budget_hold_until,
    may_have_been_sent,
    rate_limit_info,
    rate_limit_wait,
    retry_error,
    retry_unanswered,
)

NOW = 1_700_000_000.0
POLICY = RetryPolicy()
KINDS = (IDEMPOTENT, SUBMIT, SEND)


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# ---------------------------------------------------------------- no answer
def test_only_a_connection_that_never_opened_counts_as_not_sent() -> None:
    request = httpx.Request("GET", "https://r1-api.dotdigital.com/")
    for cls in (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
        assert not may_have_been_sent(cls("x", request=request))
    for cls in (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
                httpx.ReadError):
        assert may_have_been_sent(cls("x", request=request))


@pytest.mark.parametrize(("kind", "maybe_sent", "expected"), [
    (IDEMPOTENT, True, True), (IDEMPOTENT, False, True),
    (SUBMIT, True, False), (SUBMIT, False, True),
    (SEND, True, False), (SEND, False, True),
])
def test_unanswered_calls_are_repeated_only_when_harmless(kind: str, maybe_sent: bool,
                                                         expected: bool) -> None:
    assert retry_unanswered(kind, maybe_sent) is expected  # type: ignore[arg-type]


# ---------------------------------------------------------------- answered with an error
@pytest.mark.parametrize("kind", KINDS)
def test_429_with_a_reset_waits_for_it_for_every_kind(kind: str) -> None:
    err = RateLimitedError("x", status=429, reset_at=at(NOW + 5))
    assert retry_error(err, kind, {}) == "reset"  # type: ignore[arg-type]


def test_429_without_reset_is_waited_out_except_for_an_import_submission() -> None:
    err = RateLimitedError("x", status=429)
    assert retry_error(err, IDEMPOTENT, {}) == "reset"
    assert retry_error(err, SEND, {}) == "reset"
    assert retry_error(err, SUBMIT, {}) is None  # "too many active imports"
    assert retry_error(err, SUBMIT, httpx.Headers({"retry-after": "3"})) == "reset"


@pytest.mark.parametrize("kind", KINDS)
def test_5xx_backs_off_only_for_idempotent_calls(kind: str) -> None:
    expected = "backoff" if kind == IDEMPOTENT else None
    assert retry_error(ServerError("x", status=503), kind, {}) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [
    AuthenticationError("x", status=401), NotFoundError("x", status=404),
    ConflictError("x", status=409), ValidationError("x", status=400),
    DotdigitalError("x", status=302),
])
@pytest.mark.parametrize("kind", KINDS)
def test_client_errors_are_never_retried(error: DotdigitalError, kind: str) -> None:
    assert retry_error(error, kind, {}) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- back-off
@given(attempt=st.integers(0, 40), unit=st.floats(0, 1, exclude_max=True),
       base=st.floats(0.01, 10), cap=st.floats(0.01, 120))
def test_backoff_is_between_half_and_all_of_the_capped_exponential(
        attempt: int, unit: float, base: float, cap: float) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_max=cap)
    ceiling = min(cap, base * 2**attempt)
    delay = backoff_delay(attempt, policy, lambda: unit)
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_doubles_until_the_cap() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=10.0)
    highest = [backoff_delay(n, policy, lambda: 1.0) for n in range(6)]
    assert highest == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_delay(3, policy, lambda: 0.0) == 4.0


def test_a_negative_retry_count_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


# ---------------------------------------------------------------- rate-limit headers
def test_rate_limit_headers_read_as_epoch_or_delta() -> None:
    epoch = rate_limit_info({"X-RateLimit-Reset": str(int(NOW + 60)), "X-RateLimit-Limit": "35",
                             "X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "account"}, NOW)
    assert epoch == {"reset_at": at(NOW + 60), "limit": 35, "remaining": 0, "scope": "account"}
    delta = rate_limit_info({"X-RateLimit-Reset": "60"}, NOW)
    assert delta["reset_at"] == at(NOW + 60)
    assert rate_limit_info({"X-RateLimit-Reset": "soon"}, NOW)["reset_at"] is None
    assert rate_limit_info({}, NOW) == {"reset_at": None, "limit": None, "remaining": None,
                                        "scope": None}


def test_429_wait_prefers_reset_then_retry_after_then_default() -> None:
    assert rate_limit_wait(at(NOW + 40), {"Retry-After": "3"}, NOW, POLICY) == 41.0
    assert rate_limit_wait(at(NOW - 10), {}, NOW, POLICY) == 1.0  # past reset: margin only
    assert rate_limit_wait(None, {"Retry-After": "3"}, NOW, POLICY) == 3.0
    assert rate_limit_wait(None, {"Retry-After": "never"}, NOW, POLICY) == 30.0
    assert rate_limit_wait(None, {}, NOW, POLICY) == POLICY.default_rate_limit_wait


@given(seconds=st.floats(0, 10_000))
def test_429_wait_beyond_the_bound_gives_up(seconds: float) -> None:
    policy = RetryPolicy(max_rate_limit_wait=60.0)
    wait = rate_limit_wait(None, {"Retry-After": repr(seconds)}, NOW, policy)
    assert wait == (seconds if seconds <= 60.0 else None)


def test_a_spent_budget_holds_the_next_call_until_the_reset() -> None:
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 20))}
    assert budget_hold_until(spent, NOW, POLICY) == NOW + 20 + POLICY.rate_limit_margin
    capped = RetryPolicy(max_rate_limit_wait=5.0)
    assert budget_hold_until(spent, NOW, capped) == NOW + 5.0
    assert budget_hold_until({**spent, "X-RateLimit-Remaining": "3"}, NOW, POLICY) is None
    assert budget_hold_until({"X-RateLimit-Remaining": "0"}, NOW, POLICY) is None
    past = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW - 100))}
    assert budget_hold_until(past, NOW, POLICY) is None
