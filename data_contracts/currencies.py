"""ISO 4217 currency facts: the codes in use today (pycountry's maintained list) and
each code's minor units (ISO 4217's own table, through the ``iso4217`` package).

pycountry's ``currencies`` database is ISO 4217's current list (List One); withdrawn
codes such as ``HRK`` (the kuna, replaced by the euro in 2023) or ``SLL`` are not in it,
and no historic table is consulted. The fund and special codes of List One (``XAU``,
``XDR``, ``XXX``, ``XTS``…) are current ISO 4217 codes and are accepted as the SPEC asks.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import pycountry

#: Every current ISO 4217 alphabetic code, upper case.
CURRENCY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)


def normalise_currency(raw: Any) -> tuple[str | None, str | None]:
    """``(code, None)`` for a current ISO 4217 code (any case, surrounding space ignored),
    else ``(None, reason)``. Never raises."""
    from dotsync.data_contracts._display import show

    if not isinstance(raw, str) or not raw.strip():
        return None, "no currency given" if raw is None or isinstance(raw, str) else (
            f"{show(raw)} is not text"
        )
    code = raw.strip().upper()
    if code in CURRENCY_CODES:
        return code, None
    return None, f"currency {show(raw)} is not an ISO 4217 code"


# -- minor units ------------------------------------------------------------------------

def _minor_units() -> dict[str, int | None]:
    """ISO 4217's own minor units per code, from the ``iso4217`` package, which ships
    the maintainer's published table (SIX, List One) and is re-released when it changes.
    ``None`` where ISO 4217 says "N.A." (funds, precious metals, ``XXX``). Babel/CLDR is
    not used: its "currency digits" are display conventions that differ from ISO 4217
    for some codes."""
    from iso4217 import Currency

    return {c.code: c.exponent for c in Currency}


#: Enough digits for any float quantized to a few decimals (the largest is ~1.8e308).
_EXACT = Context(prec=400, rounding=ROUND_HALF_UP)

#: ``{code: digits after the decimal point}`` (JPY 0, GBP 2, BHD 3), None when N.A.
MINOR_UNITS: dict[str, int | None] = _minor_units()


def minor_units(code: Any) -> int | None:
    """Digits after the point for ``code`` (upper case); None when ISO 4217 has none or
    the code is unknown (amounts are then kept as given)."""
    return MINOR_UNITS.get(code) if isinstance(code, str) else None


def round_amount(value: float, code: Any) -> float:
    """``value`` rounded to the currency's minor units, half away from zero on the
    decimal text (``12.345`` GBP -> ``12.35``); as given when there are none. Stays a
    float: insight records keep one number type per field."""
    digits = minor_units(code)
    if digits is None or value != value:
        return value
    quick = round(value, digits)
    if quick == value:  # nearly always: the source already wrote the currency's digits
        return value + 0.0
    step = Decimal(1).scaleb(-digits)
    return float(_EXACT.quantize(Decimal(repr(value)), step)) + 0.0


def format_amount(value: float, code: Any) -> str:
    """An amount as text with the currency's minor units: JPY ``1500``, GBP ``12.50``,
    BHD ``1.500``; without a fixed number of digits when ISO 4217 gives none."""
    digits = minor_units(code)
    if digits is None:
        text = format(Decimal(repr(float(value) + 0.0)).normalize(), "f")
        return text
    step = Decimal(1).scaleb(-digits)
    return format(_EXACT.quantize(Decimal(repr(float(value) + 0.0)), step), "f")
