"""ISO 3166-1 alpha-2 country codes, from pycountry's maintained list.

Only officially assigned codes of today are accepted (``GB``, not ``UK``; not the
user-assigned ``XK``); pycountry's historic table (ISO 3166-3) is not consulted.
"""

from __future__ import annotations

from typing import Any

import pycountry

#: Every current ISO 3166-1 alpha-2 code, upper case.
COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)


def normalise_country(raw: Any) -> tuple[str | None, str | None]:
    """``(code, None)`` for an ISO 3166-1 alpha-2 code (any case, surrounding space
    ignored), else ``(None, reason)``. Never raises."""
    from dotsync.data_contracts._display import show

    if not isinstance(raw, str) or not raw.strip():
        return None, "no country given" if raw is None or isinstance(raw, str) else (
            f"{show(raw)} is not text"
        )
    code = raw.strip().upper()
    if code in COUNTRY_CODES:
        return code, None
    return None, f"country {show(raw)} is not an ISO 3166-1 alpha-2 code"
