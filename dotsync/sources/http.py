"""HTTP for the platform APIs: retries on 429 (``Retry-After``) and 5xx, no secrets shown.

The three platforms' extraction uses httpx directly rather than each vendor's SDK:
the payloads must stay the raw JSON the file loader also reads (one mapping for
both), and the commercetools SDK alone would bring requests, requests-oauthlib,
marshmallow, WebOb and Werkzeug into every install for a handful of GET calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

#: Attempts per request before the error is raised.
MAX_ATTEMPTS = 6
#: Longest wait honoured from a ``Retry-After`` header.
MAX_WAIT = 120.0


class SourceError(RuntimeError):
    """A platform API call failed for good; the message names the call, never a secret."""


class SourceAuthError(SourceError):
    """The platform refused the credentials (401/403): retrying cannot help."""


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: the ``Retry-After`` header (seconds or an HTTP date), else
    exponential back-off (0.5 s, 1 s, 2 s …)."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return min(MAX_WAIT, max(0.0, float(header)))
        except ValueError:
            try:
                when = parsedate_to_datetime(header)
                return min(MAX_WAIT, max(0.0, when.timestamp() - time.time()))
            except (TypeError, ValueError):
                pass
    return min(MAX_WAIT, 0.5 * 2**attempt)


class RetryingClient:
    """GET (and the one POST of an OAuth token) with retries for transient answers.

    ``sleep`` is injectable so tests never wait; ``stats`` counts calls, retries and
    seconds waited, for the run report.
    """

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._client = httpx.Client(base_url=base_url, headers=dict(headers or {}),
                                    transport=transport, timeout=timeout)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self.stats: dict[str, float] = {"calls": 0, "retries": 0, "waited": 0.0}

    def set_header(self, name: str, value: str) -> None:
        self._client.headers[name] = value

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        last: str = ""
        for attempt in range(self._max_attempts):
            self.stats["calls"] += 1
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
                wait = min(MAX_WAIT, 0.5 * 2**attempt)
            else:
                status = response.status_code
                if status in (401, 403):
                    raise SourceAuthError(
                        f"{method} {_path(url)}: the platform refused the credentials "
                        f"({status}); check the access token or client credentials")
                if status == 429 or status >= 500:
                    last = f"HTTP {status}"
                    wait = retry_after(response, attempt)
                elif status >= 400:
                    raise SourceError(f"{method} {_path(url)}: HTTP {status}: "
                                      f"{response.text[:300]}")
                else:
                    return response
            if attempt + 1 < self._max_attempts:
                self.stats["retries"] += 1
                self.stats["waited"] += wait
                self._sleep(wait)
        raise SourceError(f"{method} {_path(url)}: still failing after "
                          f"{self._max_attempts} attempts ({last})")

    def get_json(self, url: str, params: Any = None) -> tuple[Any, httpx.Response]:
        response = self.request("GET", url, params=params)
        try:  # amounts as Decimal, never float
            return json.loads(response.content, parse_float=Decimal), response
        except ValueError:
            raise SourceError(f"GET {_path(url)}: the answer is not JSON") from None


def _path(url: str) -> str:
    """The path of a URL without its query (which may hold a token on some APIs)."""
    return url.split("?", 1)[0]
