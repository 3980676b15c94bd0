"""DotdigitalClient: one method per Dotdigital operation dotsync needs, typed results.

The client is assembled from small modules, one concern each: :mod:`.wire` (JSON encoding,
import bodies), :mod:`.redaction` (masking and scrubbing), :mod:`.retry` (the retry and
rate-limit policy as pure functions), :mod:`.transport` (auth, httpx, one ``request()``)
and the operation groups :mod:`.contacts`, :mod:`.insight`, :mod:`.campaigns`,
:mod:`.account_data` and :mod:`.programs`. :class:`~.api.DotdigitalAPI` is the protocol
callers depend on.

Plain synchronous httpx; no Prefect here, so the client works the same in a flow, a script,
a test or the emulator's own checks.

What the client takes care of, so callers don't have to:

* **Credentials stay with Dotdigital.** Every base URL (configured, the r1 discovery URL and
  the discovered ``ApiEndpoint``) passes the SPEC §3 allow-list (:mod:`.hosts`) before the
  first credentialed request, and each request's final URL is checked again before the
  ``Authorization`` header is attached. Redirects are never followed. TLS is verified.
* **Region discovery.** Without an endpoint, ``GET /v2/account-info`` on r1 tells us the
  account's ``ApiEndpoint``.
* **Retries only where they are safe.** A 429 means "not processed": every operation waits
  for the reset (bounded) and tries again. 5xx, timeouts and dropped connections are
  retried with jittered exponential back-off only for idempotent operations (reads,
  PUT/PATCH upserts, DELETE, status polls). Import submissions and triggered-campaign sends
  are not repeated after their request may have reached Dotdigital: a send whose answer
  was lost raises :class:`~.errors.SendOutcomeUnknown`. A connection that never opened
  carried nothing, so that is retried for every operation.
* **Pacing.** ``calls_per_minute`` spreads calls evenly (:mod:`.pacing`); a response saying
  ``X-RateLimit-Remaining: 0`` holds the next call until the reset.
* **No secrets in output.** The password is held as a ``SecretStr``,
  never put in a URL, absent from ``repr`` and from log lines (which show method, path with
  e-mail addresses masked, status and milliseconds), and httpx exceptions (whose request
  carries the ``Authorization`` header) are never chained into the errors raised here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final

import httpx
from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.dotdigital.account_data import AccountDataOperations
from dotsync.dotdigital.api import DotdigitalAPI
from dotsync.dotdigital.campaigns import CampaignOperations
from dotsync.dotdigital.contacts import ContactOperations
from dotsync.dotdigital.hosts import DISCOVERY_URL, check_endpoint
from dotsync.dotdigital.insight import InsightOperations
from dotsync.dotdigital.models import CallStats
from dotsync.dotdigital.pacing import Pacer
from dotsync.dotdigital.programs import ProgramOperations
from dotsync.dotdigital.readback import ReadBackOperations
from dotsync.dotdigital.redaction import mask_path
from dotsync.dotdigital.retry import IDEMPOTENT, SEND, SUBMIT, Kind, RetryPolicy
from dotsync.dotdigital.slots import HeldImports, ImportSlots
from dotsync.dotdigital.transport import Acquire, BasicAuth, Transport
from dotsync.dotdigital.wire import (
    BODY_PART_BYTES,
    MergeOption,
    SerializedChunk,
    SerializedRecord,
    build_contact_import_body,
    build_insight_import_body,
    contact_for_import,
    dumps,
    splice,
)
from dotsync.dotdigital.wire import iso_z as _iso_z  # noqa: F401  (imported from here)
from dotsync.dotdigital.wire import v2_date as _v2_date  # noqa: F401
from dotsync.masking import mask_email

__all__ = [
    "BODY_PART_BYTES",
    "IDEMPOTENT",
    "SEND",
    "SUBMIT",
    "DotdigitalClient",
    "Kind",
    "MergeOption",
    "SerializedChunk",
    "SerializedRecord",
    "build_contact_import_body",
    "build_insight_import_body",
    "contact_for_import",
    "dumps",
    "mask_path",
    "splice",
]

_DEFAULT_POLICY = RetryPolicy()

#: Seconds an idle connection is kept for reuse. Below the shortest idle timeout a
#: server commonly has (5 s: uvicorn's, Node's; the emulator's too): a connection the
#: server is closing at the moment it is reused fails with "Server disconnected without
#: sending a response", and an import submission or a send that fails so is not retried
#: (it may have gone through). httpx's default is 5 s, the same as such servers: that
#: race failed an import of 93,000 orders in a backfill benchmark.
KEEPALIVE_EXPIRY = 2.0


class DotdigitalClient(ContactOperations, InsightOperations, CampaignOperations,
                       AccountDataOperations, ReadBackOperations, ProgramOperations):
    """A synchronous Dotdigital API client (see the module docstring for its guarantees).

    ``endpoint`` is the regional base URL (e.g. ``https://r2-api.dotdigital.com``); when
    ``None`` it is discovered on first use. ``transport`` lets tests and the emulator swap
    the HTTP transport. ``sleep``/``clock`` (epoch seconds) are injectable so waits can be
    tested on a fake clock; ``rng`` makes back-off jitter reproducible. ``acquire`` is an
    outside limiter called before each request (see :class:`~.transport.Acquire`);
    ``import_slots`` an outside count of imports in flight (see :mod:`.slots`).
    """

    RATE_LIMIT_MARGIN: Final = _DEFAULT_POLICY.rate_limit_margin
    DEFAULT_RATE_LIMIT_WAIT: Final = _DEFAULT_POLICY.default_rate_limit_wait

    def __init__(
        self,
        user: str,
        password: str | SecretStr,
        endpoint: str | None = None,
        calls_per_minute: float | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 121.0,
        max_retries: int = 5,
        *,
        discovery_url: str = DISCOVERY_URL,
        max_rate_limit_wait: float = 900.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        user_agent: str = "dotsync (+https://github.com/dotsync)",
        acquire: Acquire | None = None,
        import_slots: ImportSlots | None = None,
    ) -> None:
        secret = password if isinstance(password, SecretStr) else SecretStr(password or "")
        if not user:
            raise ValueError("the Dotdigital API user is not set (DOTDIGITAL_API_USER)")
        if not secret:
            raise ValueError("the Dotdigital API password is not set (DOTDIGITAL_API_PASSWORD)")
        policy = RetryPolicy(max_retries=max_retries, backoff_base=backoff_base,
                             backoff_max=backoff_max, max_rate_limit_wait=max_rate_limit_wait)
        # Allow-list first: a bad endpoint fails here, before anything is sent anywhere.
        checked = check_endpoint(endpoint, what="DOTDIGITAL_API_ENDPOINT") if endpoint else None
        discovery = check_endpoint(discovery_url, what="discovery URL")
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(float(timeout), 30.0))
        http = httpx.Client(
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
            follow_redirects=False,
            verify=True,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
        self._user = user
        self._sleep = sleep  # read by bulk.wait_for_import, so one fake clock covers both
        self._clock = clock
        self._transport = Transport(
            user, secret, endpoint=checked, discovery_url=discovery, policy=policy,
            pacer=Pacer(calls_per_minute, burst=burst, clock=clock, sleep=sleep),
            http=http, sleep=sleep, clock=clock, rng=rng or random.Random(), acquire=acquire,
        )
        self._imports = HeldImports(import_slots)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DotdigitalClient:
        """A client from SPEC §3 settings (user, password, endpoint, calls per minute)."""
        kwargs: dict[str, Any] = {
            "user": settings.api_user,
            "password": settings.api_password,
            "endpoint": settings.api_endpoint,
            "calls_per_minute": settings.calls_per_minute,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def close(self) -> None:
        self._imports.release_all()
        self._transport.http.close()

    def __enter__(self) -> DotdigitalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"DotdigitalClient(user={mask_email(self._user)!r}, endpoint={self.endpoint!r}, "
            f"calls_per_minute={self._pacer.calls_per_minute!r})"
        )

    @property
    def endpoint(self) -> str | None:
        """The regional base URL in use (``None`` until discovered)."""
        return self._transport.endpoint

    @property
    def stats(self) -> CallStats:
        """A snapshot of calls by operation, retries and seconds waited."""
        return self._transport.stats()

    @property
    def max_retries(self) -> int:
        return self._transport.policy.max_retries

    # The transport's parts, under the names they have always had here.
    @property
    def _endpoint(self) -> str | None:
        return self._transport.endpoint

    @_endpoint.setter
    def _endpoint(self, value: str | None) -> None:
        self._transport.endpoint = value

    @property
    def _http(self) -> httpx.Client:
        return self._transport.http

    @property
    def _auth(self) -> BasicAuth:
        return self._transport.auth

    @property
    def _pacer(self) -> Pacer:
        return self._transport.pacer


def _fits_protocol(client: DotdigitalClient) -> DotdigitalAPI:
    """Never called: the type checker proves here that the client is a DotdigitalAPI."""
    return client
