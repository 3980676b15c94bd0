"""The SPEC §3 host allow-list.

The API password travels in every request's ``Authorization`` header, so the one thing
that must never happen is a request to a host that is not Dotdigital's. Endpoints come
from configuration (``DOTDIGITAL_API_ENDPOINT``) and from Dotdigital's own answer
(``ApiEndpoint`` in ``/v2/account-info``); both are checked here before any request with
credentials is built, and the client checks the final request URL again.

Allowed:
* ``https://`` to ``dotdigital.com`` / ``dotmailer.com`` or any subdomain of them, any port;
* ``http://`` to loopback only (``127.0.0.0/8``, ``::1``, ``localhost``): the emulator.

Refused, among others: lookalikes (``r1-api.dotdigital.com.evil.example``,
``evildotdigital.com``), userinfo tricks (``https://r1-api.dotdigital.com@evil.example``),
non-ASCII hosts, trailing-dot hosts, URLs with a path, query or fragment, ``http://`` to
anything but loopback.

:func:`check_endpoint` returns the endpoint rebuilt from its parsed parts, so the string the
HTTP library later parses is exactly the one that was checked.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from dotsync.dotdigital.errors import HostNotAllowedError

__all__ = ["ALLOWED_DOMAINS", "DISCOVERY_URL", "check_endpoint", "is_allowed_host", "is_loopback"]

ALLOWED_DOMAINS: tuple[str, ...] = ("dotdigital.com", "dotmailer.com")
DISCOVERY_URL = "https://r1-api.dotdigital.com"

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def is_loopback(host: str) -> bool:
    """``localhost``, an IPv4 address in 127.0.0.0/8, or ``::1``."""
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_dotdigital(host: str) -> bool:
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return False
    return any(host == domain or host.endswith("." + domain) for domain in ALLOWED_DOMAINS)


def is_allowed_host(scheme: str, host: str) -> bool:
    """Whether credentials may be sent to ``scheme://host`` (host without port)."""
    scheme = scheme.lower()
    host = host.lower()
    if not host or not re.fullmatch(r"[a-z0-9.:-]+", host):
        return False
    if scheme == "https":
        return _is_dotdigital(host)
    if scheme == "http":
        return is_loopback(host)
    return False


def check_endpoint(url: str, *, what: str = "endpoint") -> str:
    """Validate ``url`` against the allow-list; return it normalised (no trailing slash).

    Raises :class:`HostNotAllowedError` naming ``what`` (e.g. "DOTDIGITAL_API_ENDPOINT",
    "discovered ApiEndpoint") and the offending host, never any credential.
    """
    if not isinstance(url, str) or not url.strip():
        raise HostNotAllowedError(f"{what} is empty")
    raw = url.strip()
    if any(ch.isspace() or ord(ch) < 0x20 for ch in raw) or "\\" in raw:
        raise HostNotAllowedError(f"{what} contains whitespace or backslashes")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise HostNotAllowedError(f"{what} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise HostNotAllowedError(f"{what} must be an https:// URL (got scheme {scheme!r})")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise HostNotAllowedError(f"{what} must not contain user information ('…@host')")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise HostNotAllowedError(f"{what} must not have a query or fragment")
    if parts.path not in ("", "/"):
        raise HostNotAllowedError(f"{what} must be a base URL without a path")
    host = (parts.hostname or "").lower()
    if not is_allowed_host(scheme, host):
        if scheme == "http" and _is_dotdigital(host):
            reason = "Dotdigital hosts must be reached over https://"
        elif scheme == "http":
            reason = "http:// is allowed only to loopback addresses"
        else:
            reason = "only hosts under dotdigital.com or dotmailer.com are allowed"
        raise HostNotAllowedError(f"{what} host {host or '(none)'!r} is not allowed: {reason}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"
