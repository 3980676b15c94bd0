"""Keeping secrets and personal data out of logs and error messages.

Contact paths carry e-mail addresses and mobile numbers, and an httpx error's request
carries the ``Authorization`` header. Everything the client logs or raises passes through
here: :func:`mask_path` for request paths, :class:`Scrubber` for text and decoded error
bodies, and :class:`MaskHttpxUrls` for httpx's own request log lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from dotsync.dotdigital.errors import mask_text

__all__ = ["MASK", "MaskHttpxUrls", "Scrubber", "install_httpx_filter", "mask_path"]

MASK = "**********"

_MOBILE_IN_PATH = re.compile(r"(mobileNumber/)([^/?]+)")


def mask_path(path: str) -> str:
    """A request path fit for logs: decoded, e-mails and mobile numbers masked."""
    text = mask_text(unquote(path))
    return _MOBILE_IN_PATH.sub(lambda m: m.group(1) + "***" + m.group(2)[-2:], text)


class Scrubber:
    """Removes the given secrets (the password, the Basic token) from text and from every
    string of a decoded body.

    The secrets are read through callables each time, so the scrubber itself holds no
    copy of them and its ``repr`` shows none.
    """

    def __init__(self, *secrets: Callable[[], str]) -> None:
        self._secrets = secrets

    def __repr__(self) -> str:
        return f"<Scrubber of {len(self._secrets)} secrets>"

    def secrets(self, text: str) -> str:
        """``text`` with every secret replaced by :data:`MASK`."""
        for get in self._secrets:
            secret = get()
            if secret:
                text = text.replace(secret, MASK)
        return text

    def text(self, text: str) -> str:
        """Text fit for a log line or an error message: no secret, no e-mail address."""
        return mask_text(self.secrets(text))

    def value(self, value: Any) -> Any:
        """Secrets out of every string of a decoded error body (addresses are kept: callers
        need ``details`` to tell which contact failed; messages mask them)."""
        if isinstance(value, str):
            return self.secrets(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


class MaskHttpxUrls(logging.Filter):
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


def install_httpx_filter() -> None:
    """Add :class:`MaskHttpxUrls` to the ``httpx`` logger, once."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, MaskHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(MaskHttpxUrls())
