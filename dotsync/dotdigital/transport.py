"""The transport: credentials, the httpx client, and one :meth:`Transport.request` that
applies the host allow-list, pacing, an optional outside limiter and the retry policy.

Everything about *how* a call goes out lives here; *which* call to make lives in the
operation modules (:mod:`.contacts`, :mod:`.insight`, :mod:`.campaigns`,
:mod:`.account_data`), and *whether* to retry and how long to wait in :mod:`.retry`.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from dotsync.dotdigital import retry
from dotsync.dotdigital.errors import (
    DotdigitalError,
    HostNotAllowedError,
    RateLimitedError,
    SendOutcomeUnknown,
    TransportError,
    error_from_response,
)
from dotsync.dotdigital.hosts import check_endpoint, is_allowed_host
from dotsync.dotdigital.models import AccountInfo, CallStats
from dotsync.dotdigital.pacing import Pacer
from dotsync.dotdigital.redaction import MASK, Scrubber, install_httpx_filter, mask_path
from dotsync.dotdigital.retry import IDEMPOTENT, SEND, Kind, RetryPolicy
from dotsync.dotdigital.wire import encode_body
from dotsync.masking import mask_email

__all__ = ["Acquire", "BasicAuth", "Transport", "decode_json"]

logger = logging.getLogger("dotsync.dotdigital")
install_httpx_filter()


class Acquire(Protocol):
    """An outside limiter: called with the operation's name right before each HTTP request
    (retries included, as each counts against Dotdigital's budget), and blocks until the
    request may go. A limit shared by several processes (e.g. a Prefect global rate limit)
    plugs in here; what it raises propagates to the caller before anything is sent."""

    def __call__(self, operation: str, /) -> object: ...


class BasicAuth(httpx.Auth):
    """HTTP Basic auth built per request from a ``SecretStr``; its repr shows no secret."""

    def __init__(self, user: str, password: SecretStr) -> None:
        self._user = user
        self._password = password

    def header(self) -> str:
        raw = f"{self._user}:{self._password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def token(self) -> str:
        """The base64 part of the header, for scrubbing."""
        return self.header().split(" ", 1)[1]

    def password(self) -> str:
        return self._password.get_secret_value()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header()
        yield request

    def __repr__(self) -> str:
        return f"<BasicAuth user={mask_email(self._user)!r} password={MASK}>"


def decode_json(response: httpx.Response, operation: str) -> Any:
    """The response's JSON body (``None`` when empty); a clear error when it is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise DotdigitalError(
            f"{operation}: Dotdigital answered {response.status_code} with a body that is"
            " not JSON",
            status=response.status_code,
            operation=operation,
        ) from None


def _error_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        text = response.text.strip()
        return {"message": text[:300]} if text else None


class Transport:
    """Sends one logical call at a time, as many HTTP requests as the policy allows.

    ``endpoint`` ``None`` means discover the region through ``discovery_url`` on first use.
    Thread-safe: counters and discovery are under a lock; the pacer has its own.
    """

    def __init__(
        self,
        user: str,
        password: SecretStr,
        *,
        endpoint: str | None,
        discovery_url: str,
        policy: RetryPolicy,
        pacer: Pacer,
        http: httpx.Client,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
        acquire: Acquire | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.discovery_url = discovery_url
        self.auth = BasicAuth(user, password)
        self.scrub = Scrubber(self.auth.password, self.auth.token)
        self.policy = policy
        self.pacer = pacer
        self.http = http
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.acquire = acquire
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0
        self.backoff_seconds = 0.0

    def __repr__(self) -> str:
        return f"<Transport endpoint={self.endpoint!r}>"

    def stats(self) -> CallStats:
        """A snapshot of calls by operation, retries and seconds waited."""
        with self.lock:
            return CallStats(
                calls=dict(self.calls),
                retries=self.retries,
                rate_limited=self.rate_limited,
                rate_limit_wait_seconds=self.pacer.held_seconds,
                pacing_wait_seconds=self.pacer.paced_seconds,
                backoff_wait_seconds=self.backoff_seconds,
            )

    # ------------------------------------------------------------------ region
    def require_endpoint(self) -> str:
        with self.lock:
            if self.endpoint is None:
                self.discover()
            assert self.endpoint is not None
            return self.endpoint

    def discover(self) -> AccountInfo:
        """``GET /v2/account-info`` on the discovery URL; remembers its ``ApiEndpoint``."""
        response = self.request("account_info", "GET", "/v2/account-info",
                                base=self.discovery_url)
        info = AccountInfo.from_json(decode_json(response, "account_info"))
        if not info.api_endpoint:
            raise DotdigitalError("account-info did not say which ApiEndpoint to use",
                                  operation="account_info", status=response.status_code)
        endpoint = check_endpoint(info.api_endpoint,
                                  what="ApiEndpoint discovered through /v2/account-info")
        with self.lock:
            self.endpoint = endpoint
        logger.info("Dotdigital account region discovered: %s", endpoint)
        return info

    # ------------------------------------------------------------------ one call
    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        kind: Kind = IDEMPOTENT,
        base: str | None = None,
    ) -> httpx.Response:
        """One logical call: pacing, allow-list, auth, retries as ``kind`` permits."""
        base_url = base or self.require_endpoint()
        content, headers = encode_body(body)
        shown = mask_path(path)
        attempt = 0
        while True:
            request = self._prepare(operation, method, base_url + path, params, content,
                                    headers)
            started = time.perf_counter()
            response: httpx.Response | None = None
            failure: tuple[bool, str] = (False, "")
            try:
                response = self.http.send(request, auth=self.auth)
            except httpx.HTTPError as exc:
                failure = (retry.may_have_been_sent(exc),
                           self.scrub.text(f"{type(exc).__name__}: {exc}"))
            # Errors are raised below, outside the ``except`` block, so the httpx exception
            # (its request holds the Authorization header) is neither the cause nor the
            # context of anything we raise.
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response is None:
                maybe_sent, reason = failure
                logger.info("%s %s -> no response (%s) after %.0f ms",
                            method, shown, reason, elapsed_ms)
                self._unanswered(operation, method, shown, kind, maybe_sent, reason, attempt)
            else:
                logger.debug("%s %s -> %s (%.0f ms)", method, shown, response.status_code,
                             elapsed_ms)
                if self._answered(operation, method, shown, kind, response, attempt):
                    return response
            attempt += 1

    def _prepare(self, operation: str, method: str, url: str,
                 params: Mapping[str, Any] | None, content: Any,
                 headers: dict[str, str] | None) -> httpx.Request:
        """Wait for the call's turn, build the request, check its host, count it."""
        self.pacer.acquire()
        if self.acquire is not None:
            self.acquire(operation)
        request = self.http.build_request(method, url, params=params, content=content,
                                          headers=headers)
        if not is_allowed_host(request.url.scheme, request.url.host) or request.url.userinfo:
            raise HostNotAllowedError(
                f"{operation}: refusing to send credentials to {request.url.host!r}",
                operation=operation,
            )
        with self.lock:
            self.calls[operation] += 1
        return request

    def _unanswered(self, operation: str, method: str, shown: str, kind: Kind,
                    maybe_sent: bool, reason: str, attempt: int) -> None:
        """No answer: back off and return to retry, or raise."""
        if retry.retry_unanswered(kind, maybe_sent) and attempt < self.policy.max_retries:
            self._back_off(operation, attempt, reason)
            return
        if kind == SEND and maybe_sent:
            raise SendOutcomeUnknown(
                f"{operation}: {method} {shown}: the request was sent but no answer"
                f" came back ({reason}); Dotdigital may or may not have sent it",
                operation=operation,
            )
        raise TransportError(f"{operation}: {method} {shown}: no response ({reason})",
                             operation=operation)

    def _answered(self, operation: str, method: str, shown: str, kind: Kind,
                  response: httpx.Response, attempt: int) -> bool:
        """True for a 2xx; after waiting, False to retry; else raise the mapped error."""
        hold = retry.budget_hold_until(response.headers, self.clock(), self.policy)
        if hold is not None:
            logger.info("Dotdigital call budget spent; next call waits %.1f s",
                        hold - self.clock())
            self.pacer.hold_until(hold)
        status = response.status_code
        if 200 <= status < 300:
            return True
        err = error_from_response(
            status,
            self.scrub.value(_error_body(response)),
            operation=operation,
            method=method,
            path=shown,
            rate_limit=retry.rate_limit_info(response.headers, self.clock()),
        )
        if isinstance(err, RateLimitedError):
            with self.lock:
                self.rate_limited += 1
        how = retry.retry_error(err, kind, response.headers)
        if how == "reset" and isinstance(err, RateLimitedError) and self._hold_for_reset(
                operation, err, response, attempt):
            return False
        if how == "backoff" and attempt < self.policy.max_retries:
            self._back_off(operation, attempt, f"HTTP {status}")
            return False
        raise err

    def _hold_for_reset(self, operation: str, err: RateLimitedError,
                        response: httpx.Response, attempt: int) -> bool:
        """Hold the next call until a 429's reset; False when that is too far or no
        attempt is left."""
        wait = retry.rate_limit_wait(err.reset_at, response.headers, self.clock(), self.policy)
        if wait is None or attempt >= self.policy.max_retries:
            return False
        logger.info("%s: rate limited (%s); waiting %.1f s for the reset",
                    operation, err.scope or "account", wait)
        self.pacer.hold_until(self.clock() + wait)
        with self.lock:
            self.retries += 1
        return True

    def _back_off(self, operation: str, attempt: int, reason: str) -> None:
        delay = retry.backoff_delay(attempt, self.policy, self.rng.random)
        logger.warning("%s: %s; retry %d/%d in %.1f s",
                       operation, reason, attempt + 1, self.policy.max_retries, delay)
        with self.lock:
            self.retries += 1
            self.backoff_seconds += delay
        self.sleep(delay)
