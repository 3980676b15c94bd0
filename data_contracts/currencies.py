"""ISO 4217 currency codes in use today, from pycountry's maintained list.

pycountry's ``currencies`` database is ISO 4217's current list (List One); withdrawn
codes such as ``HRK`` (the kuna, replaced by the euro in 2023) or ``SLL`` are not in it,
and no historic table is consulted. The fund and special codes of List One (``XAU``,
``XDR``, ``XXX``, ``XTS``…) are current ISO 4217 codes and are accepted as the SPEC asks.
"""

from __future__ import annotations

from typing import Any

import pycountry

#: Every current ISO 4217 alphabetic code, upper case.
CURRENCY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)


def normalise_currency(raw: Any) -> tuple[str | None, str | None]:
    """``(code, None)`` for a current ISO 4217 code (any case, surrounding space ignored),
    else ``(None, reason)``. Never raises."""
    from data_contracts._display import show

    if not isinstance(raw, str) or not raw.strip():
        return None, "no currency given" if raw is None or isinstance(raw, str) else (
            f"{show(raw)} is not text"
        )
    code = raw.strip().upper()
    if code in CURRENCY_CODES:
        return code, None
    return None, f"currency {show(raw)} is not an ISO 4217 code"
