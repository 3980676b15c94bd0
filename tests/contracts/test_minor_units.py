"""Amounts in the currency's ISO 4217 minor units (SPEC §2), from ISO 4217's own table."""

from __future__ import annotations

import math

import pytest
from dotsync.data_contracts.currencies import (
    CURRENCY_CODES,
    MINOR_UNITS,
    format_amount,
    minor_units,
    round_amount,
)
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(("code", "digits"), [
    ("JPY", 0), ("KRW", 0), ("GBP", 2), ("EUR", 2), ("USD", 2), ("BHD", 3), ("KWD", 3),
    ("CLF", 4), ("ISK", 0), ("XAU", None), ("XXX", None), ("NOPE", None), (None, None)])
def test_minor_units_are_iso_4217s(code: str, digits: int | None) -> None:
    assert minor_units(code) == digits


def test_every_accepted_code_has_an_entry() -> None:
    assert set(MINOR_UNITS) >= CURRENCY_CODES


@pytest.mark.parametrize(("value", "code", "text", "number"), [
    (1500, "JPY", "1500", 1500.0), (1.5, "BHD", "1.500", 1.5), (12.5, "GBP", "12.50", 12.5),
    (12.345, "GBP", "12.35", 12.35), (2.675, "GBP", "2.68", 2.68), (0.5, "JPY", "1", 1.0),
    (-0.0, "GBP", "0.00", 0.0), (0.125, "XAU", "0.125", 0.125), (3, "XAU", "3", 3.0),
])
def test_amounts_are_rounded_half_away_from_zero_on_their_decimal_text(
    value: float, code: str, text: str, number: float
) -> None:
    assert format_amount(value, code) == text
    assert round_amount(float(value), code) == number
    assert isinstance(round_amount(float(value), code), float)


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False),
       st.sampled_from(sorted(CURRENCY_CODES)))
def test_any_amount_in_any_currency_formats_and_rounds(value: float, code: str) -> None:
    text = format_amount(value, code)
    digits = minor_units(code)
    if digits:
        assert len(text.split(".")[1]) == digits
    elif digits == 0:
        assert "." not in text
    rounded = round_amount(value, code)
    assert math.isfinite(rounded) and isinstance(rounded, float)
    if digits is not None:
        assert abs(rounded - value) <= 10.0 ** -digits / 2 * 1.0000001 + abs(value) * 1e-15
