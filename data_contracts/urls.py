"""The certificate link rule: an ``https://`` URL with a host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import CONTROL_RE


def https_url_problem(raw: Any) -> str | None:
    """None when ``raw`` is an ``https://`` URL with a host, else the reason; never raises.

    Whitespace or control characters anywhere are refused (a link is pasted into an
    e-mail as is); so is a port that is not a number.
    """
    if not isinstance(raw, str):
        return f"link {show(raw)} is not text"
    text = raw.strip()
    if any(c.isspace() for c in text) or CONTROL_RE.search(text):
        return f"link {show(raw)} contains spaces or control characters"
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"link {show(raw)} is not a valid URL ({exc})"
    if parts.scheme.lower() != "https" or not text.lower().startswith("https://"):
        return f"link {show(raw)} is not an https:// URL"
    if not host:
        return f"link {show(raw)} has no host"
    return None
