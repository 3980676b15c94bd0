"""DotdigitalClient: one method per Dotdigital operation dotsync needs, typed results.

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
* **No secrets in output.** The password is held as a :class:`~dotsync.config.Secret`,
  never put in a URL, absent from ``repr`` and from log lines (which show method, path with
  e-mail addresses masked, status and milliseconds), and httpx exceptions (whose request
  carries the ``Authorization`` header) are never chained into the errors raised here.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, overload
from urllib.parse import quote, unquote

import httpx
import orjson

from dotsync.config import Secret, Settings
from dotsync.dotdigital.account_data import AccountDataOperations
from dotsync.dotdigital.errors import (
    DotdigitalError,
    HostNotAllowedError,
    NotFoundError,
    RateLimitedError,
    SendOutcomeUnknown,
    ServerError,
    TransportError,
    error_from_response,
    mask_text,
)
from dotsync.dotdigital.hosts import DISCOVERY_URL, check_endpoint, is_allowed_host
from dotsync.dotdigital.lean import contact_import_head
from dotsync.dotdigital.models import (
    AccountInfo,
    BatchSendResult,
    CallStats,
    Campaign,
    ContactDeleteReport,
    ContactImportReport,
    ContactUpsert,
    InsightImportReport,
    Suppression,
    TriggeredSend,
)
from dotsync.dotdigital.pacing import Pacer
from dotsync.dotdigital.readback import ReadBackOperations
from dotsync.masking import mask_email

__all__ = [
    "DotdigitalClient",
    "build_contact_import_body",
    "build_insight_import_body",
    "contact_for_import",
    "dumps",
    "mask_path",
]

logger = logging.getLogger("dotsync.dotdigital")


class _MaskHttpxUrls(logging.Filter):
    """Mask e-mail addresses in httpx's own request log lines.

    httpx logs every request URL at INFO (``HTTP Request: GET https://…/contacts/v3/email/
    jo@example.com``), and contact paths carry e-mail addresses. The filter rewrites only
    such addresses, so other users of httpx lose nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging system's business
            return True
        masked = mask_path(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _MaskHttpxUrls) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_MaskHttpxUrls())

Kind = Literal["idempotent", "submit", "send"]
IDEMPOTENT: Final = "idempotent"
SUBMIT: Final = "submit"  # PUT …/import, POST …/delete: each call creates a new job
SEND: Final = "send"  # triggered-campaign sends: a repeat e-mails the customer again

MergeOption = Literal[
    "overwrite", "overwrite-if-not-empty", "overwrite-if-empty",
    "overwriteIfNotEmpty", "overwriteIfEmpty",
]
_MERGE_KEBAB = {
    "overwrite": "overwrite",
    "overwrite-if-not-empty": "overwrite-if-not-empty",
    "overwriteifnotempty": "overwrite-if-not-empty",
    "overwrite-if-empty": "overwrite-if-empty",
    "overwriteifempty": "overwrite-if-empty",
}
_MERGE_CAMEL = {
    "overwrite": "overwrite",
    "overwrite-if-not-empty": "overwriteIfNotEmpty",
    "overwrite-if-empty": "overwriteIfEmpty",
}

#: Connection failures that happen before any byte of the request left: safe to repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def dumps(body: Any) -> bytes:
    """The exact bytes the client sends for a JSON body (compact, UTF-8).

    :mod:`.bulk` sizes import chunks with this same function, so a chunk measured as fitting
    is the body that goes on the wire.
    """
    try:
        return orjson.dumps(body)
    except TypeError:  # a type orjson does not know (e.g. an int beyond 64 bits)
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()


class SerializedRecord(bytes):
    """One import record already encoded by :func:`dumps`.

    A bulk chunk of these is spliced into the request body as it is, so a 50 MB import
    holds 50 MB of bytes in memory rather than several times that in Python objects.
    """


class SerializedChunk(Sequence[SerializedRecord]):
    """A whole import body built as its records were serialised, with where each
    record sits in it.

    Reads as the sequence of its records, but the client sends :attr:`body` as it is:
    a 50 MB import is 50 MB of bytes, with no per-record objects and no copy to splice
    it together. ``prefix`` is the body up to the first record (the envelope), which
    the client checks against the import it was asked for.
    """

    __slots__ = ("_offsets", "body", "prefix")

    def __init__(self, body: bytes | bytearray, offsets: Sequence[int], prefix: bytes) -> None:
        self.body = body
        self.prefix = prefix
        self._offsets = offsets  # start of each record, then the body's closing "]}"

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> SerializedRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[SerializedRecord]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        # Each record ends one byte (its comma, or the list's "]") before the next start.
        return SerializedRecord(self.body[self._offsets[index]:self._offsets[index + 1] - 1])

    def __repr__(self) -> str:
        return f"SerializedChunk({len(self)} records, {len(self.body)} bytes)"


#: Bodies larger than this are handed to the transport in views of this size.
BODY_PART_BYTES = 1 << 20


def _in_parts(content: bytes | bytearray) -> list[memoryview]:
    """A large body as views of ``BODY_PART_BYTES`` each, sent with its Content-Length.

    httpcore writes a body by sending what the socket takes and slicing off the rest
    (``buffer = buffer[n:]``), which copies the remainder after every partial send: a
    48 MB import briefly took 80 MB more, and copied hundreds of megabytes in all. Views
    are not copied, and a list can be sent again when the call is retried.
    """
    view = memoryview(content)
    return [view[i:i + BODY_PART_BYTES] for i in range(0, len(view), BODY_PART_BYTES)]


def _chunk_body(envelope: Mapping[str, Any], list_field: str, records: Sequence[Any]) -> Any:
    """The body to send for ``records``: a :class:`SerializedChunk` built for this very
    envelope as it is, other pre-serialised records spliced, else the plain JSON body."""
    base = {**{k: v for k, v in envelope.items() if k != list_field}, list_field: []}
    if isinstance(records, SerializedChunk):
        if records.prefix == dumps(base)[:-2]:
            return records.body
        return splice(envelope, list_field, list(records))
    if isinstance(records[0], SerializedRecord):
        return splice(envelope, list_field, records)  # type: ignore[arg-type]
    return None


def splice(envelope: Mapping[str, Any], list_field: str,
           records: Sequence[SerializedRecord]) -> bytes:
    """``dumps({**envelope, list_field: records})`` for records already serialised."""
    base = dumps({**{k: v for k, v in envelope.items() if k != list_field}, list_field: []})
    assert base.endswith(b"[]}")
    # One join for the whole body: concatenating would copy a 50 MB body twice more.
    parts: list[bytes] = [base[:-2]]
    for i, record in enumerate(records):
        if i:
            parts.append(b",")
        parts.append(record)
    parts.append(b"]}")
    return b"".join(parts)


def _merge_kebab(option: str) -> str:
    try:
        return _MERGE_KEBAB[option.lower()]
    except KeyError:
        raise ValueError(f"unknown merge option {option!r}") from None


def contact_for_import(contact: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 contact ready for ``PUT /contacts/v3/import``: ``matchIdentifier`` filled in.

    It is ``email`` when the contact has one, else ``mobileNumber`` (SPEC §1: a customer may
    have only a mobile number). The caller's dict is not modified.
    """
    out = dict(contact)
    if not out.get("matchIdentifier"):
        out["matchIdentifier"] = _contact_key(contact)[0]
    return out


def build_contact_import_body(
    contacts: Sequence[Mapping[str, Any]], merge_option: str = "overwrite"
) -> dict[str, Any]:
    """The ``PUT /contacts/v3/import`` body (``mergeOption`` is camelCase there)."""
    return {
        "mergeOption": _MERGE_CAMEL[_merge_kebab(merge_option)],
        "contacts": [contact_for_import(c) for c in contacts],
    }


def build_insight_import_body(
    collection: str,
    records: Sequence[Mapping[str, Any]],
    scope: Literal["contact", "account"] = "contact",
    type: str = "orders",
) -> dict[str, Any]:
    """The ``PUT /insightData/v3/import`` body."""
    if scope not in ("contact", "account"):
        raise ValueError(f"scope must be 'contact' or 'account', got {scope!r}")
    return {
        "collectionName": collection,
        "collectionScope": scope,
        "collectionType": type,
        "records": [dict(r) for r in records],
    }


def _contact_key(contact: Mapping[str, Any]) -> tuple[str, str]:
    identifiers = contact.get("identifiers") or {}
    chosen = contact.get("matchIdentifier")
    if chosen and identifiers.get(chosen):
        return str(chosen), str(identifiers[chosen])
    for name in ("email", "mobileNumber"):
        if identifiers.get(name):
            return name, str(identifiers[name])
    raise ValueError("a contact needs identifiers.email or identifiers.mobileNumber")


def _seg(value: object) -> str:
    """One URL path segment: everything but unreserved characters and ``@`` escaped."""
    return quote(str(value), safe="@")


_MOBILE_IN_PATH = re.compile(r"(mobileNumber/)([^/?]+)")


def mask_path(path: str) -> str:
    """A request path fit for logs: decoded, e-mails and mobile numbers masked."""
    text = mask_text(unquote(path))
    return _MOBILE_IN_PATH.sub(lambda m: m.group(1) + "***" + m.group(2)[-2:], text)


def _iso_z(moment: datetime | date) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS(.fff)Z``, the only form the v3 ``~modified`` filter takes."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive means UTC throughout dotsync
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _v2_date(moment: datetime | date) -> str:
    """The ``{date}`` of the v2 ``…-since/{date}`` paths: a UTC calendar date.

    The published spec types these dates as ``format: date``; passing a datetime reads from
    the start of its UTC day, which re-reads a few records at most (harmless: read-only).
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date().isoformat()
    return moment.isoformat()


class _BasicAuth(httpx.Auth):
    """HTTP Basic auth built per request from a :class:`Secret`; its repr shows no secret."""

    def __init__(self, user: str, password: Secret) -> None:
        self._user = user
        self._password = password

    def header(self) -> str:
        raw = f"{self._user}:{self._password.get()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = self.header()
        yield request

    def __repr__(self) -> str:
        return f"<BasicAuth user={mask_email(self._user)!r} password=**********>"


class DotdigitalClient(AccountDataOperations, ReadBackOperations):
    """A synchronous Dotdigital API client (see the module docstring for its guarantees).

    ``endpoint`` is the regional base URL (e.g. ``https://r2-api.dotdigital.com``); when
    ``None`` it is discovered on first use. ``transport`` lets tests and the emulator swap
    the HTTP transport. ``sleep``/``clock`` (epoch seconds) are injectable so waits can be
    tested on a fake clock; ``rng`` makes back-off jitter reproducible.
    """

    RATE_LIMIT_MARGIN: Final = 1.0  # seconds added to a reset time, for clock skew
    DEFAULT_RATE_LIMIT_WAIT: Final = 30.0  # a 429 that says nothing about its reset

    def __init__(
        self,
        user: str,
        password: str | Secret,
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
    ) -> None:
        secret = password if isinstance(password, Secret) else Secret(password or "")
        if not user:
            raise ValueError("the Dotdigital API user is not set (DOTDIGITAL_API_USER)")
        if not secret:
            raise ValueError("the Dotdigital API password is not set (DOTDIGITAL_API_PASSWORD)")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        # Allow-list first: a bad endpoint fails here, before anything is sent anywhere.
        self._endpoint: str | None = (
            check_endpoint(endpoint, what="DOTDIGITAL_API_ENDPOINT") if endpoint else None
        )
        self._discovery_url = check_endpoint(discovery_url, what="discovery URL")
        self._user = user
        self._auth = _BasicAuth(user, secret)
        self.max_retries = max_retries
        self.max_rate_limit_wait = max_rate_limit_wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._pacer = Pacer(calls_per_minute, burst=burst, clock=clock, sleep=sleep)
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(float(timeout), 30.0))
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            verify=True,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
        self._lock = threading.RLock()
        self._calls: Counter[str] = Counter()
        self._retries = 0
        self._rate_limited = 0
        self._backoff_seconds = 0.0
        self._discovered: AccountInfo | None = None

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
        self._http.close()

    def __enter__(self) -> DotdigitalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"DotdigitalClient(user={mask_email(self._user)!r}, endpoint={self._endpoint!r}, "
            f"calls_per_minute={self._pacer.calls_per_minute!r})"
        )

    @property
    def endpoint(self) -> str | None:
        """The regional base URL in use (``None`` until discovered)."""
        return self._endpoint

    @property
    def stats(self) -> CallStats:
        """A snapshot of calls by operation, retries and seconds waited."""
        with self._lock:
            return CallStats(
                calls=dict(self._calls),
                retries=self._retries,
                rate_limited=self._rate_limited,
                rate_limit_wait_seconds=self._pacer.held_seconds,
                pacing_wait_seconds=self._pacer.paced_seconds,
                backoff_wait_seconds=self._backoff_seconds,
            )

    # ------------------------------------------------------------------ plumbing
    def _require_endpoint(self) -> str:
        with self._lock:
            if self._endpoint is None:
                self._discover()
            assert self._endpoint is not None
            return self._endpoint

    def _discover(self) -> AccountInfo:
        response = self._call("account_info", "GET", "/v2/account-info",
                              base=self._discovery_url)
        info = AccountInfo.from_json(self._json(response, "account_info"))
        if not info.api_endpoint:
            raise DotdigitalError("account-info did not say which ApiEndpoint to use",
                                  operation="account_info", status=response.status_code)
        endpoint = check_endpoint(info.api_endpoint,
                                  what="ApiEndpoint discovered through /v2/account-info")
        with self._lock:
            self._endpoint = endpoint
            self._discovered = info
        logger.info("Dotdigital account region discovered: %s", endpoint)
        return info

    def _scrub_secret(self, text: str) -> str:
        """Replace the password and the Basic token wherever they occur in ``text``."""
        secret = self._auth._password.get()
        if secret:
            text = text.replace(secret, "**********")
        token = self._auth.header().split(" ", 1)[1]
        return text.replace(token, "**********")

    def _scrub(self, text: str) -> str:
        """Text fit for a log line or an error message: no secret, no e-mail address."""
        return mask_text(self._scrub_secret(text))

    def _scrub_value(self, value: Any) -> Any:
        """Secrets out of every string of a decoded error body (addresses are kept: callers
        need ``details`` to tell which contact failed; messages mask them)."""
        if isinstance(value, str):
            return self._scrub_secret(value)
        if isinstance(value, Mapping):
            return {k: self._scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_value(v) for v in value]
        return value

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def _rate_limit_info(self, response: httpx.Response) -> dict[str, Any]:
        headers = response.headers

        def number(name: str) -> float | None:
            try:
                return float(headers[name])
            except (KeyError, ValueError):
                return None

        reset = number("X-RateLimit-Reset")
        if reset is not None and reset < 1e9:  # a delta in seconds, not an epoch time
            reset = self._clock() + reset
        limit = number("X-RateLimit-Limit")
        remaining = number("X-RateLimit-Remaining")
        return {
            "reset_at": datetime.fromtimestamp(reset, UTC) if reset is not None else None,
            "limit": int(limit) if limit is not None else None,
            "remaining": int(remaining) if remaining is not None else None,
            "scope": headers.get("X-RateLimit-Scope"),
        }

    def _note_budget(self, response: httpx.Response) -> None:
        """``X-RateLimit-Remaining: 0`` with a reset: hold the next call until then."""
        if response.headers.get("X-RateLimit-Remaining", "").strip() != "0":
            return
        info = self._rate_limit_info(response)
        if info["reset_at"] is None:
            return
        now = self._clock()
        until = info["reset_at"].timestamp() + self.RATE_LIMIT_MARGIN
        until = min(until, now + self.max_rate_limit_wait)
        if until > now:
            logger.info("Dotdigital call budget spent; next call waits %.1f s", until - now)
            self._pacer.hold_until(until)

    def _rate_limit_wait(self, err: RateLimitedError, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a 429, or None if the wait is beyond the bound."""
        now = self._clock()
        if err.reset_at is not None:
            wait = max(0.0, err.reset_at.timestamp() - now) + self.RATE_LIMIT_MARGIN
        else:
            try:
                wait = float(response.headers["Retry-After"])
            except (KeyError, ValueError):
                wait = self.DEFAULT_RATE_LIMIT_WAIT
        return wait if wait <= self.max_rate_limit_wait else None

    def _json(self, response: httpx.Response, operation: str) -> Any:
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

    def _call(
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
        base_url = base or self._require_endpoint()
        content: Any = (body if isinstance(body, bytes | bytearray)
                        else dumps(body) if body is not None else None)
        headers = {"Content-Type": "application/json"} if content is not None else None
        if content is not None and len(content) > BODY_PART_BYTES:
            content, headers = _in_parts(content), {**(headers or {}),
                                                    "Content-Length": str(len(content))}
        elif isinstance(content, bytearray):
            content = bytes(content)  # httpx would iterate a bytearray as integers
        shown = mask_path(path)
        attempt = 0
        while True:
            self._pacer.acquire()
            request = self._http.build_request(
                method, base_url + path, params=params, content=content, headers=headers
            )
            if not is_allowed_host(request.url.scheme, request.url.host) or (
                request.url.userinfo
            ):
                raise HostNotAllowedError(
                    f"{operation}: refusing to send credentials to {request.url.host!r}",
                    operation=operation,
                )
            with self._lock:
                self._calls[operation] += 1
            started = time.perf_counter()
            failure: tuple[bool, str] | None = None
            response: httpx.Response | None = None
            try:
                response = self._http.send(request, auth=self._auth)
            except _NOT_SENT as exc:
                failure = (False, f"{type(exc).__name__}: {exc}")
            except httpx.HTTPError as exc:
                failure = (True, f"{type(exc).__name__}: {exc}")
            # Errors are raised below, outside the ``except`` blocks, so the httpx
            # exception (its request holds the Authorization header) is neither the
            # cause nor the context of anything we raise.
            elapsed_ms = (time.perf_counter() - started) * 1000
            if failure is not None:
                maybe_sent, reason = failure
                reason = self._scrub(reason)
                logger.info("%s %s -> no response (%s) after %.0f ms",
                            method, shown, reason, elapsed_ms)
                if (kind == IDEMPOTENT or not maybe_sent) and attempt < self.max_retries:
                    self._retry_after_backoff(operation, attempt, reason)
                    attempt += 1
                    continue
                if kind == SEND and maybe_sent:
                    raise SendOutcomeUnknown(
                        f"{operation}: {method} {shown}: the request was sent but no answer"
                        f" came back ({reason}); Dotdigital may or may not have sent it",
                        operation=operation,
                    )
                raise TransportError(
                    f"{operation}: {method} {shown}: no response ({reason})",
                    operation=operation,
                )
            assert response is not None
            status = response.status_code
            logger.debug("%s %s -> %s (%.0f ms)", method, shown, status, elapsed_ms)
            self._note_budget(response)
            if 200 <= status < 300:
                return response
            err = error_from_response(
                status,
                self._scrub_value(self._error_body(response)),
                operation=operation,
                method=method,
                path=shown,
                rate_limit=self._rate_limit_info(response),
            )
            if isinstance(err, RateLimitedError):
                with self._lock:
                    self._rate_limited += 1
                if kind == SUBMIT and err.reset_at is None and (
                        "Retry-After" not in response.headers):
                    # "Too many active imports": no reset time to wait for. The caller
                    # knows its imports in flight and retries when one of them ends.
                    raise err
                wait = self._rate_limit_wait(err, response)
                if wait is not None and attempt < self.max_retries:
                    logger.info("%s: rate limited (%s); waiting %.1f s for the reset",
                                operation, err.scope or "account", wait)
                    self._pacer.hold_until(self._clock() + wait)
                    with self._lock:
                        self._retries += 1
                    attempt += 1
                    continue
                raise err
            if isinstance(err, ServerError) and kind == IDEMPOTENT and attempt < self.max_retries:
                self._retry_after_backoff(operation, attempt, f"HTTP {status}")
                attempt += 1
                continue
            raise err

    def _retry_after_backoff(self, operation: str, attempt: int, reason: str) -> None:
        delay = self._backoff(attempt)
        logger.warning("%s: %s; retry %d/%d in %.1f s",
                       operation, reason, attempt + 1, self.max_retries, delay)
        with self._lock:
            self._retries += 1
            self._backoff_seconds += delay
        self._sleep(delay)

    @staticmethod
    def _error_body(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            text = response.text.strip()
            return {"message": text[:300]} if text else None

    # ------------------------------------------------------------------ account
    def account_info(self) -> AccountInfo:
        """``GET /v2/account-info``; discovers (and remembers) the region when needed."""
        with self._lock:
            if self._endpoint is None:
                info = self._discover()
                self._discovered = None
                return info
        response = self._call("account_info", "GET", "/v2/account-info")
        return AccountInfo.from_json(self._json(response, "account_info"))

    # ------------------------------------------------------------------ contacts (v3)
    def upsert_contact(
        self, contact: Mapping[str, Any], merge_option: MergeOption | str = "overwrite"
    ) -> ContactUpsert:
        """Create or update one contact: ``PATCH /contacts/v3/{identifier}/{value}``.

        ``contact`` is a v3 contact (``identifiers``, ``dataFields``, ``channelProperties``,
        ``lists``…). It is matched by e-mail, or by mobile number when it has no e-mail.
        ``PUT`` on that path would *replace* the contact, so it is never used.
        """
        identifier, value = _contact_key(contact)
        body = {k: v for k, v in contact.items() if k != "matchIdentifier"}
        response = self._call(
            "upsert_contact", "PATCH", f"/contacts/v3/{_seg(identifier)}/{_seg(value)}",
            params={"merge-option": _merge_kebab(merge_option)}, body=body,
        )
        return ContactUpsert.from_json(response.status_code,
                                       self._json(response, "upsert_contact"))

    def create_contact(self, contact: Mapping[str, Any]) -> ContactUpsert:
        """Create one contact, never update one: ``POST /contacts/v3``.

        Dotdigital answers 409 (:class:`ConflictError`) when an identifier is taken, so
        a status sent here reaches only a contact this call creates. Retried like the
        other idempotent calls: a retry of a create that went through gets the 409.
        """
        body = {k: v for k, v in contact.items() if k != "matchIdentifier"}
        response = self._call("create_contact", "POST", "/contacts/v3", body=body)
        return ContactUpsert.from_json(201, self._json(response, "create_contact"))

    def get_contact(self, identifier: str, value: str) -> dict[str, Any]:
        """``GET /contacts/v3/{identifier}/{value}``; :class:`NotFoundError` when absent."""
        response = self._call("get_contact", "GET",
                              f"/contacts/v3/{_seg(identifier)}/{_seg(value)}")
        return dict(self._json(response, "get_contact") or {})

    def delete_contact(self, identifier: str, value: str, *, missing_ok: bool = False) -> None:
        """``DELETE /contacts/v3/{identifier}/{value}``.

        With ``missing_ok`` a 404 counts as done (the contact is gone either way).
        """
        try:
            self._call("delete_contact", "DELETE",
                       f"/contacts/v3/{_seg(identifier)}/{_seg(value)}")
        except NotFoundError:
            if not missing_ok:
                raise

    def import_contacts(
        self, contacts: Sequence[Mapping[str, Any]], merge_option: MergeOption | str = "overwrite"
    ) -> str:
        """Submit a bulk import (``PUT /contacts/v3/import``); returns the ``importId``.

        Not retried after it may have reached Dotdigital (each submission is a new import);
        size chunks with :func:`dotsync.dotdigital.bulk.chunk_contacts`.
        """
        if not contacts:
            raise ValueError("import_contacts needs at least one contact")
        body = _chunk_body(build_contact_import_body([], merge_option), "contacts", contacts)
        if body is None:
            body = build_contact_import_body(contacts, merge_option)
        response = self._call("import_contacts", "PUT", "/contacts/v3/import", body=body,
                              kind=SUBMIT)
        return self._import_id(response, "import_contacts", "importId")

    def get_contact_import(self, import_id: str, *, contacts: bool = True
                           ) -> ContactImportReport:
        """``GET /contacts/v3/import/{importId}``: status, summary and per-contact results.

        A finished import's report names every contact it created or updated: for a
        50 MB import that is some 30 MB of JSON, and over 100 MB once decoded into
        Python objects. ``contacts=False`` leaves ``created`` and ``updated`` empty and
        skips them while decoding, for callers that need only the status, the summary
        and the failures (a bulk load).
        """
        response = self._call("get_contact_import", "GET",
                              f"/contacts/v3/import/{_seg(import_id)}")
        if contacts:
            body = self._json(response, "get_contact_import")
        else:
            try:
                body = contact_import_head(response.content) if response.content \
                    else None
            except ValueError:
                raise DotdigitalError(
                    f"get_contact_import: Dotdigital answered {response.status_code} with a "
                    "body that is not JSON", status=response.status_code,
                    operation="get_contact_import") from None
        return ContactImportReport.from_json(body, import_id)

    def delete_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> str:
        """Bulk delete (``POST /contacts/v3/delete``, ≤ 5000); returns the ``deleteId``.

        Each item names one identifier, e.g. ``{"email": "jo@example.com"}``.
        """
        if not contacts:
            raise ValueError("delete_contacts needs at least one contact")
        if len(contacts) > 5000:
            raise ValueError("Dotdigital deletes at most 5000 contacts per request")
        response = self._call("delete_contacts", "POST", "/contacts/v3/delete",
                              body=[dict(c) for c in contacts], kind=SUBMIT)
        return self._import_id(response, "delete_contacts", "deleteId")

    def get_contact_delete(self, delete_id: str) -> ContactDeleteReport:
        """``GET /contacts/v3/delete/{deleteId}``."""
        response = self._call("get_contact_delete", "GET",
                              f"/contacts/v3/delete/{_seg(delete_id)}")
        return ContactDeleteReport.from_json(self._json(response, "get_contact_delete"),
                                             delete_id)

    def contacts_modified_since(
        self,
        since: datetime | date,
        *,
        limit: int = 1000,
        include: Iterable[str] = ("channelProperties",),
    ) -> Iterator[dict[str, Any]]:
        """Every contact modified at or after ``since`` (``GET /contacts/v3``, marker paging).

        Lazy: each page is fetched as the iteration reaches it.
        """
        if not 1 <= limit <= 5000:
            raise ValueError("limit must be between 1 and 5000")
        params: dict[str, Any] = {"~modified": f"gte::{_iso_z(since)}", "limit": limit}
        included = "|".join(include)
        if included:
            params["include"] = included
        marker: str | None = None
        while True:
            page_params = dict(params)
            if marker:
                page_params["marker"] = marker
            response = self._call("contacts_modified_since", "GET", "/contacts/v3",
                                  params=page_params)
            page = self._json(response, "contacts_modified_since") or {}
            items = page.get("_items") or []
            yield from items
            next_link = (page.get("_links") or {}).get("next") or {}
            next_marker = next_link.get("marker")
            if not items or not next_marker or next_marker == marker:
                return
            marker = next_marker

    # ------------------------------------------------------------------ insight data (v3)
    def import_insight_data(
        self,
        collection: str,
        records: Sequence[Mapping[str, Any]],
        scope: Literal["contact", "account"] = "contact",
        type: str = "orders",
    ) -> str:
        """Submit a bulk insight import (``PUT /insightData/v3/import``); returns ``importId``.

        Each record is ``{"key", "json"}`` plus, for contact scope, ``"contactIdentity":
        {"identifier": "email", "value": …}`` (see :func:`dotsync.dotdigital.bulk.insight_record`).
        """
        if not records:
            raise ValueError("import_insight_data needs at least one record")
        body: Any = _chunk_body(build_insight_import_body(collection, [], scope, type),
                                "records", records)
        if body is not None:
            response = self._call("import_insight_data", "PUT", "/insightData/v3/import",
                                  body=body, kind=SUBMIT)
            return self._import_id(response, "import_insight_data", "importId")
        if scope == "contact":
            for record in records:
                if not record.get("contactIdentity"):
                    raise ValueError(
                        f"insight record {record.get('key')!r} has no contactIdentity, which a"
                        " contact-scoped collection requires"
                    )
        body = build_insight_import_body(collection, records, scope, type)
        response = self._call("import_insight_data", "PUT", "/insightData/v3/import",
                              body=body, kind=SUBMIT)
        return self._import_id(response, "import_insight_data", "importId")

    def get_insight_import(self, import_id: str) -> InsightImportReport:
        """``GET /insightData/v3/import/{importId}``."""
        response = self._call("get_insight_import", "GET",
                              f"/insightData/v3/import/{_seg(import_id)}")
        return InsightImportReport.from_json(self._json(response, "get_insight_import"),
                                             import_id)

    def upsert_contact_insight(
        self,
        collection: str,
        key: str,
        json: Mapping[str, Any],
        email: str,
        *,
        identifier: str = "email",
    ) -> None:
        """Create or replace one contact-scoped record (201 created, 204 replaced).

        ``PUT /insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}``;
        ``email`` is the identifier's value (a mobile number with ``identifier=
        "mobileNumber"``). The contact must exist: 404 otherwise.
        """
        self._call(
            "upsert_contact_insight", "PUT",
            f"/insightData/v3/contacts/{_seg(identifier)}/{_seg(email)}/{_seg(collection)}"
            f"/{_seg(key)}",
            body=dict(json),
        )

    def upsert_account_insight(self, collection: str, key: str, json: Mapping[str, Any]) -> None:
        """``PUT /insightData/v3/account/{collectionName}/{recordId}`` (catalogues)."""
        self._call("upsert_account_insight", "PUT",
                   f"/insightData/v3/account/{_seg(collection)}/{_seg(key)}", body=dict(json))

    # ------------------------------------------------------------------ sends (v2)
    def send_triggered_campaign(
        self,
        campaign_id: int,
        to_address: str,
        personalization: Mapping[str, str] | None = None,
    ) -> None:
        """Send one triggered-campaign e-mail (``POST /v2/email/triggered-campaign``).

        Never repeated once the request may have reached Dotdigital: a lost answer raises
        :class:`SendOutcomeUnknown`. Exactly-once across runs is the caller's ledger's job.
        """
        body = TriggeredSend(campaign_id, to_address, dict(personalization or {})).to_json()
        self._call("send_triggered_campaign", "POST", "/v2/email/triggered-campaign",
                   body=body, kind=SEND)

    def send_triggered_campaign_batch(
        self, sends: Sequence[TriggeredSend]
    ) -> list[BatchSendResult]:
        """``POST /v2/email/triggered-campaign/batch``: one result per input, by index.

        An input is ``ok`` unless Dotdigital returned a failure code or reason for its index.
        """
        if not sends:
            return []
        response = self._call("send_triggered_campaign_batch", "POST",
                              "/v2/email/triggered-campaign/batch",
                              body=[s.to_json() for s in sends], kind=SEND)
        body = self._json(response, "send_triggered_campaign_batch") or []
        failures: dict[int, Mapping[str, Any]] = {}
        for item in body if isinstance(body, list) else []:
            if isinstance(item, Mapping) and (item.get("failureCode") or item.get("failureReason")):
                try:
                    failures[int(item.get("index"))] = item  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    continue
        results = []
        for index in range(len(sends)):
            failed = failures.get(index)
            results.append(BatchSendResult(
                index=index,
                ok=failed is None,
                failure_code=None if failed is None else _opt_str(failed.get("failureCode")),
                failure_reason=None if failed is None else _opt_str(failed.get("failureReason")),
            ))
        return results

    # ------------------------------------------------------------------ campaigns (v2)
    def list_campaigns(self, *, page_size: int = 1000) -> list[Campaign]:
        """Every campaign (``GET /v2/campaigns?select=…&skip=…``, all pages)."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        return [Campaign.from_json(c) for c in self._v2_pages(
            "list_campaigns", "/v2/campaigns", page_size)]

    def get_campaign(self, campaign_id: int) -> Campaign:
        """``GET /v2/campaigns/{id}``; :class:`NotFoundError` when there is no such campaign."""
        response = self._call("get_campaign", "GET", f"/v2/campaigns/{int(campaign_id)}")
        return Campaign.from_json(self._json(response, "get_campaign"))

    # ------------------------------------------------------------------ consent read-back (v2)
    def suppressed_since(self, since: datetime | date, *, page_size: int = 1000
                         ) -> list[Suppression]:
        """``GET /v2/contacts/suppressed-since/{date}``, all pages."""
        return [Suppression.from_json(s) for s in self._v2_pages(
            "suppressed_since", f"/v2/contacts/suppressed-since/{_v2_date(since)}", page_size)]

    def unsubscribed_since(self, since: datetime | date, *, page_size: int = 1000
                           ) -> list[Suppression]:
        """``GET /v2/contacts/unsubscribed-since/{date}``, all pages."""
        return [Suppression.from_json(s) for s in self._v2_pages(
            "unsubscribed_since", f"/v2/contacts/unsubscribed-since/{_v2_date(since)}",
            page_size)]

    def _v2_pages(self, operation: str, path: str, page_size: int) -> Iterator[Any]:
        """v2 ``select``/``skip`` paging: stop at the first short page.

        The first page is requested without ``skip``: the campaigns spec declares
        ``skip`` with ``minimum: 1``.
        """
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        skip = 0
        while True:
            params: dict[str, Any] = {"select": page_size}
            if skip:
                params["skip"] = skip
            response = self._call(operation, "GET", path, params=params)
            page = self._json(response, operation) or []
            if not isinstance(page, list):
                raise DotdigitalError(f"{operation}: expected a JSON array",
                                      status=response.status_code, operation=operation)
            yield from page
            if len(page) < page_size:
                return
            skip += page_size

    def _import_id(self, response: httpx.Response, operation: str, field: str) -> str:
        body = self._json(response, operation)
        value = body.get(field) if isinstance(body, Mapping) else None
        if not value:
            raise DotdigitalError(f"{operation}: Dotdigital accepted the request but returned"
                                  f" no {field}", status=response.status_code,
                                  operation=operation)
        return str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)

