"""The errors a Dotdigital call can end in.

Callers decide what to do with a failed call by its class and ``.transient``:
``transient`` errors (rate limits, 5xx, dropped connections) may succeed if tried later,
the others will not until something changes (credentials, data, configuration).
:class:`SendOutcomeUnknown` is neither: the request may have been processed, so it must
not be repeated blindly (a repeated triggered-campaign send e-mails the customer twice).

Messages never contain credentials or unmasked e-mail addresses: they name the operation,
the masked path, the HTTP status and Dotdigital's error code. The raw ``details`` Dotdigital
returned (which may name contacts) are kept on the exception, not in its text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dotsync.masking import mask_email

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "DotdigitalError",
    "HostNotAllowedError",
    "ImportWaitTimeout",
    "NotFoundError",
    "RateLimitedError",
    "RecordTooLargeError",
    "SendOutcomeUnknown",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_from_response",
    "mask_text",
]


class DotdigitalError(Exception):
    """Base class: a Dotdigital call failed.

    ``status`` is the HTTP status (``None`` when no response arrived), ``error_code`` is
    Dotdigital's code (v3 ``errorCode`` such as ``contacts:contactNotFound``, or the v2
    ``ERROR_…`` code found in ``message``), ``details`` the v3 ``details`` list as returned.
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        description: str | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.description = description
        self.details: list[Mapping[str, Any]] = list(details or [])
        self.operation = operation

    def __reduce__(self) -> Any:
        # Keep the keyword-only attributes when the error crosses a process boundary
        # (Prefect may pickle task exceptions).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[DotdigitalError], message: str, state: dict[str, Any]) -> DotdigitalError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class HostNotAllowedError(DotdigitalError, ValueError):
    """An endpoint is outside the SPEC §3 allow-list; nothing was sent to it."""


class AuthenticationError(DotdigitalError):
    """401/403: wrong API user or password, or the wrong regional endpoint."""


class NotFoundError(DotdigitalError):
    """404: the contact, campaign, import or collection does not exist."""


class ConflictError(DotdigitalError):
    """409: e.g. the e-mail and the mobile number belong to two different contacts."""


class ValidationError(DotdigitalError):
    """400/412 (and other 4xx): Dotdigital refused the request as sent."""


class RateLimitedError(DotdigitalError):
    """429 (or ``ERROR_APIUSAGE_EXCEEDED``): the request was not processed.

    ``reset_at`` is when the limit resets (from ``X-RateLimit-Reset``), ``limit``,
    ``remaining`` and ``scope`` come from the other ``X-RateLimit-*`` headers.
    """

    transient = True

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        scope: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at
        self.limit = limit
        self.remaining = remaining
        self.scope = scope


class ServerError(DotdigitalError):
    """5xx: Dotdigital failed; worth trying again later."""

    transient = True


class TransportError(DotdigitalError):
    """No response: connection refused, reset or timed out."""

    transient = True


class SendOutcomeUnknown(TransportError):
    """A non-idempotent send was written but no answer came back.

    Dotdigital may or may not have sent the e-mail. Repeating the call could send it twice,
    so this is *not* transient: record the send as in doubt and let a person decide.
    """

    transient = False


class ImportWaitTimeout(DotdigitalError):
    """An import did not reach a terminal status within the wait's timeout."""

    transient = True

    def __init__(self, message: str, *, import_id: str, last_status: str | None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.import_id = import_id
        self.last_status = last_status


class RecordTooLargeError(DotdigitalError, ValueError):
    """A single record serialises to more than an import request may carry."""

    def __init__(self, message: str, *, key: str, size: int, max_bytes: int) -> None:
        super().__init__(message)
        self.key = key
        self.size = size
        self.max_bytes = max_bytes


_EMAIL = re.compile(r"[^\s@'\"/<>(),;:\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def mask_text(text: str) -> str:
    """Mask every e-mail address in free text (Dotdigital's descriptions quote them)."""
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


_V2_CODE = re.compile(r"\b(ERROR_[A-Z0-9_]+)\b")


def parse_error_body(body: Any) -> tuple[str | None, str | None, list[Mapping[str, Any]]]:
    """(error_code, description, details) from a v3 or v2 error body."""
    if not isinstance(body, Mapping):
        return None, None, []
    if "errorCode" in body or "description" in body:
        details = body.get("details")
        return (
            _text(body.get("errorCode")),
            _text(body.get("description")),
            [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else [],
        )
    message = _text(body.get("message") or body.get("Message"))
    if message:
        match = _V2_CODE.search(message)
        return (match.group(1) if match else None), message, []
    return None, None, []


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    status: int,
    body: Any,
    *,
    operation: str,
    method: str,
    path: str,
    rate_limit: Mapping[str, Any] | None = None,
) -> DotdigitalError:
    """Map a non-2xx response to the matching error class.

    ``path`` must already be masked; it is the only request detail put in the message.
    """
    code, description, details = parse_error_body(body)
    summary = f"{operation}: {method} {path} answered {status}"
    if code:
        summary += f" {code}"
    if description:
        summary += f": {_shorten(mask_text(description))}"
    kwargs: dict[str, Any] = {
        "status": status,
        "error_code": code,
        "description": description,
        "details": details,
        "operation": operation,
    }
    if status == 429 or code == "ERROR_APIUSAGE_EXCEEDED":
        return RateLimitedError(summary, **(rate_limit or {}), **kwargs)
    if status in (401, 403):
        hint = (
            " (check DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD; a 403 also means the"
            " endpoint is not this account's region: unset DOTDIGITAL_API_ENDPOINT to"
            " discover it)"
        )
        return AuthenticationError(summary + hint, **kwargs)
    if status == 404:
        return NotFoundError(summary, **kwargs)
    if status == 409:
        return ConflictError(summary, **kwargs)
    if status >= 500:
        return ServerError(summary, **kwargs)
    if 400 <= status < 500:
        return ValidationError(summary, **kwargs)
    return DotdigitalError(summary, **kwargs)


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
