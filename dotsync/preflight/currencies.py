"""The ``order_currencies`` check: real ISO 4217 codes, not one placeholder currency
across several markets.

The ISO 4217 codes themselves are :data:`dotsync.data_contracts.currencies.CURRENCY_CODES`, the
same table the order and certificate contracts validate against.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from dotsync.data_contracts.currencies import CURRENCY_CODES
from dotsync.preflight.results import (
    _STORE_FIX,
    Check,
    _found,
    _listing,
    _plural,
    _skipped,
)
from dotsync.preflight.staged import StoreUnreadable

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


#: A customer-country currency needs this share of customers (with a known country) before
#: it counts as a market of its own, so a handful of foreign customers prove nothing.
MARKET_MIN_SHARE = 0.1
MARKET_MIN_CUSTOMERS = 5


_EURO = ("AT BE BG CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK AD MC SM VA ME XK")
_USD = "US PR EC SV TL FM MH PW GU VI AS MP BQ TC VG UM IO"
#: Country -> the currency its shoppers pay in. Deliberately partial: a country missing here
#: implies nothing (pycountry has no such table, and a wrong guess would raise false alarms).
COUNTRY_CURRENCY: dict[str, str] = {
    **dict.fromkeys(_EURO.split(), "EUR"),
    **dict.fromkeys(_USD.split(), "USD"),
    **dict.fromkeys(["GB", "UK", "IM", "JE", "GG"], "GBP"),
    **dict.fromkeys(["CH", "LI"], "CHF"),
    **dict.fromkeys(["DK", "FO", "GL"], "DKK"),
    "CA": "CAD", "AU": "AUD", "NZ": "NZD", "JP": "JPY", "CN": "CNY", "HK": "HKD",
    "SG": "SGD", "SE": "SEK", "NO": "NOK", "PL": "PLN", "CZ": "CZK", "HU": "HUF",
    "RO": "RON", "IS": "ISK", "IN": "INR", "BR": "BRL", "MX": "MXN", "ZA": "ZAR",
    "AE": "AED", "SA": "SAR", "IL": "ILS", "TR": "TRY", "KR": "KRW", "TW": "TWD",
    "TH": "THB", "MY": "MYR", "ID": "IDR", "PH": "PHP", "AR": "ARS", "CL": "CLP",
    "CO": "COP", "NG": "NGN", "UA": "UAH",
}
# Two-letter codes of common store markets only: "in", "my", "co", "io"… are words or
# domain endings far more often than India, Malaysia, Colombia or a USD territory.
_STORE_CODES = ("US CA AU NZ IE FR DE ES IT NL BE AT PT FI GR SE NO DK PL CZ HU CH JP CN HK SG"
                " MX BR ZA AE")
#: Store-name tokens that name a market: ``uk-web``, ``web_de``, ``shop.eu``…
_STORE_MARKETS: dict[str, str] = {
    "uk": "GBP", "gb": "GBP", "gbr": "GBP", "eu": "EUR", "euro": "EUR", "europe": "EUR",
    "usa": "USD", "deu": "EUR", "fra": "EUR", "esp": "EUR", "ita": "EUR", "nld": "EUR",
    "irl": "EUR", "aus": "AUD", "nzl": "NZD", "che": "CHF", "swe": "SEK", "dnk": "DKK",
    "pol": "PLN", "jpn": "JPY",
    **{code.lower(): COUNTRY_CURRENCY[code] for code in _STORE_CODES.split()},
}


def _store_currency(store: str) -> str | None:
    """The currency a store's name implies (``uk-web`` -> GBP), when exactly one does.

    Only the first and last tokens count (``shop-in-town`` implies nothing), and a store
    whose name implies two different currencies implies none.
    """
    tokens = [t for t in re.split(r"[^a-z0-9]+", store.lower()) if t]
    if not tokens:
        return None
    found = {_STORE_MARKETS[t] for t in {tokens[0], tokens[-1]} if t in _STORE_MARKETS}
    return found.pop() if len(found) == 1 else None


def check_order_currencies(ctx: _Context) -> Check:
    """Orders carry real ISO 4217 codes, not one placeholder currency across several markets."""
    name = "order_currencies"
    try:
        orders = ctx.staged("orders")
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if orders.rows == 0:
        return Check(name, ok=True, detail="no orders staged")
    currencies = orders["currency"]
    errors: list[str] = []
    warnings: list[str] = []
    missing = int(currencies.get("", 0))
    if missing:
        errors.append(f"{_plural(missing, 'order')} have no currency")
    given = currencies[currencies.index != ""]
    valid_mask = given.index.isin(list(CURRENCY_CODES))
    invalid = given[~valid_mask]
    if len(invalid):
        errors.append(f"{_plural(int(invalid.sum()), 'order')} with a code that is not current"
                      " ISO 4217: " + _listing(f"{c!r} ({n})" for c, n in invalid.items()))
    valid = given[valid_mask]
    if len(valid) == 1:
        only, count = str(valid.index[0]), int(valid.iloc[0])
        stores = orders["store"].add(_customer_tally(ctx, "store"), fill_value=0)
        countries = _customer_tally(ctx, "country")
        countries = countries[countries.index != ""]
        # Heuristics: a US shop selling abroad in USD is normal, so these only warn.
        warnings += _single_currency_problems(only, count, stores, countries)
        warnings += _default_currency_warnings(only, count, countries)
    fix = ("stage each order's real ISO 4217 currency (the one the customer paid in);"
           " there is no default currency")
    found = _found(name, errors, warnings, fix)
    if found is not None:
        return found
    shown = _listing(f"{c} ({n:,})" for c, n in valid.items())
    return Check(name, ok=True, detail=f"{_plural(int(valid.sum()), 'order')}: {shown}")


def _customer_tally(ctx: _Context, column: str) -> pd.Series:
    """Customers per distinct value of ``column``; empty when customers can't be read."""
    try:
        return ctx.staged("customers")[column]
    except StoreUnreadable:
        return pd.Series(dtype="int64")


def _single_currency_problems(only: str, count: int, stores: pd.Series,
                              countries: pd.Series) -> list[str]:
    """Every order in one currency while the stores or customers imply several."""
    store_markets: dict[str, list[str]] = {}
    for store in stores.index:
        implied = _store_currency(str(store)) if store else None
        if implied:
            store_markets.setdefault(implied, []).append(str(store))
    if len(store_markets) > 1:
        return [f"all {count:,} orders are in {only}, but the stores imply"
                f" {len(store_markets)} currencies: "
                + _listing(f"{'/'.join(sorted(s))} → {cur}"
                           for cur, s in sorted(store_markets.items()))]
    known = countries[countries.index.isin(list(COUNTRY_CURRENCY))]
    if int(known.sum()) < MARKET_MIN_CUSTOMERS:
        return []
    per_currency = known.groupby(known.index.map(COUNTRY_CURRENCY)).sum()
    markets = per_currency[per_currency >= MARKET_MIN_SHARE * int(known.sum())]
    if len(markets) > 1:
        return [f"all {count:,} orders are in {only}, but customers' countries imply"
                f" {len(markets)} currencies: "
                + _listing(f"{cur} ({int(n):,} customers)"
                           for cur, n in markets.sort_values(ascending=False).items())]
    return []


def _default_currency_warnings(only: str, count: int, countries: pd.Series) -> list[str]:
    """USD everywhere while no customer is in a USD country: a connector's default left in."""
    if only != "USD" or countries.empty:
        return []
    if any(COUNTRY_CURRENCY.get(str(c)) == "USD" for c in countries.index):
        return []
    return [f"all {count:,} orders are in USD, but none of the {int(countries.sum()):,}"
            " customers with a country is in the US (USD is a common connector default)"]
