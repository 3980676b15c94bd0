"""commercetools amounts by integer formatting equal the ``Decimal`` definitions.

``Money`` is ``centAmount`` × 10^-``fractionDigits`` (commercetools HTTP API, "Money"
and "CentPrecisionMoney"); the integer path must give exactly the text and sums the
``Decimal`` path gives, whatever the amount, the digits and the locale.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dotsync.sources.base import exact_sum, money_text, scaled
from dotsync.sources.commercetools import (
    DEFAULT_LOCALES,
    localized,
    map_order,
    units_sum,
    units_text,
)

_UNITS = st.integers(min_value=-(10 ** 40), max_value=10 ** 40)
_DIGITS = st.integers(min_value=0, max_value=20)


@given(_UNITS, _DIGITS)
def test_units_text_is_the_decimal_text(units, digits):
    assert units_text(units, digits) == money_text(scaled(units, digits))


@given(st.lists(st.tuples(_UNITS, _DIGITS), max_size=6), _DIGITS, st.booleans())
def test_units_sum_is_the_exact_decimal_sum(parts, digits, same):
    if same:
        parts = [(u, digits) for u, _ in parts]
    expected = money_text(exact_sum([scaled(u, d) for u, d in parts]))
    got = units_sum(parts)
    assert (got if isinstance(got, str) else money_text(got)) == expected


_LOCALES = st.sampled_from(["de-DE", "de", "en-US", "fr-FR", "it", "-x", ""]) | st.none()


@given(st.dictionaries(st.sampled_from(["de", "de-DE", "en", "en-GB", "fr", "it", "x"]),
                       st.sampled_from(["", " ", "Hemd", "Shirt", "Chemise"]), max_size=5),
       _LOCALES)
def test_localized_picks_the_documented_order(names, locale):
    wanted = [locale, locale.split("-")[0]] if locale else []
    expected = next((names[k] for k in [*wanted, *DEFAULT_LOCALES]
                     if k and names.get(k, "").strip()), None)
    if expected is None:
        expected = next((v for v in names.values() if v.strip()), None)
    assert localized(names, locale) == expected
    assert localized(names, locale) == localized(names, locale)  # cached keys agree


def _money(cents: int, digits: int) -> dict:
    return {"type": "centPrecision", "currencyCode": "EUR", "centAmount": cents,
            "fractionDigits": digits}


@given(st.lists(st.tuples(st.integers(-10 ** 12, 10 ** 12), st.integers(1, 5)), min_size=1,
                max_size=4), st.integers(0, 10 ** 9), st.sampled_from([2, 3]))
def test_order_amounts_are_exact(items, custom, digits):
    order = {
        "id": "o-1", "orderNumber": "1", "lastModifiedAt": "2024-03-02T11:00:00.000Z",
        "totalPrice": _money(sum(c * q for c, q in items) + custom, 2),
        "lineItems": [{"name": {"en": "A"}, "quantity": q, "price": {"value": _money(c, 2)},
                       "totalPrice": _money(c * q, 2)} for c, q in items],
        # A custom line without totalPrice: its money times its quantity, in other digits.
        "customLineItems": [{"name": {"en": "B"}, "quantity": 1,
                             "money": _money(custom, digits)}],
        "shippingInfo": {"price": _money(custom, digits)},
    }
    row = map_order(order)
    subtotal = exact_sum([scaled(c * q, 2) for c, q in items] + [scaled(custom, digits)])
    assert row["subtotal"] == money_text(subtotal)
    assert row["total"] == money_text(scaled(sum(c * q for c, q in items) + custom, 2))
    assert row["shipping"] == money_text(scaled(custom, digits))
