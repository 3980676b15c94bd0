"""The optional consent-record columns (SPEC §1) as a Dotdigital ``consentRecords`` entry.

Dotdigital's contacts spec requires all five fields of a consent record (``text``,
``dateTimeConsented`` as an ISO 8601 UTC timestamp, ``url`` as a URI, ``ipAddress`` as
an IPv4 or IPv6 address, ``userAgent``). A row with none of the columns sends no record;
a row with all five, each valid, sends one; a row with some missing or invalid sends
none and gets a problem naming each field: the contact itself still goes (the consent
record is optional, never a reason to hold a record).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

COLUMNS = ("consent_text", "consent_url", "consent_at", "consent_ip", "consent_user_agent")


def _present(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return False
    if isinstance(value, float) and value != value:
        return False
    return not (isinstance(value, str) and not value.strip())


def _timestamp(value: Any) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None when ``value`` is not a timestamp."""
    if isinstance(value, pd.Timestamp):
        ts = value
    else:
        try:
            ts = pd.Timestamp(str(value).strip())
        except (ValueError, TypeError, OverflowError):
            return None
    if ts is pd.NaT or not 1000 <= ts.year <= 9999:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    text: str = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text


def given_columns(row: Mapping[str, Any]) -> list[str]:
    """The consent-record columns that hold a value in ``row``, in SPEC order."""
    return [c for c in COLUMNS if _present(row.get(c))]


def consent_record(row: Mapping[str, Any]) -> tuple[dict[str, str] | None,
                                                    list[tuple[str, str]]]:
    """``(record or None, [(field, reason), …])`` for one customer row."""
    get = row.get
    if (get("consent_text") is None and get("consent_url") is None
            and get("consent_at") is None and get("consent_ip") is None
            and get("consent_user_agent") is None):
        return None, []  # the common row, first: this runs for every contact
    given = {c: row.get(c) for c in COLUMNS if _present(row.get(c))}
    if not given:
        return None, []
    problems: list[tuple[str, str]] = []
    for column in COLUMNS:
        if column not in given:
            problems.append((column, f"{column} is missing: a consent record needs all of "
                                     f"{', '.join(COLUMNS)}"))
    text = str(given.get("consent_text", "")).strip()
    url = str(given.get("consent_url", "")).strip()
    if "consent_url" in given:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(
                c.isspace() for c in url):
            problems.append(("consent_url", "consent_url is not an http(s) URL"))
    when = None
    if "consent_at" in given:
        when = _timestamp(given["consent_at"])
        if when is None:
            problems.append(("consent_at", "consent_at is not an ISO 8601 timestamp"))
    ip = str(given.get("consent_ip", "")).strip()
    if "consent_ip" in given:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            problems.append(("consent_ip", "consent_ip is not an IPv4 or IPv6 address"))
    agent = str(given.get("consent_user_agent", "")).strip()
    if problems:
        return None, problems
    return {"text": text, "dateTimeConsented": str(when), "url": url, "ipAddress": ip,
            "userAgent": agent}, []
