"""Country and currency code lists: current ISO codes only, any case accepted."""

from __future__ import annotations

import pytest
from dotsync.data_contracts import normalise_country, normalise_currency, validate_orders
from dotsync.data_contracts.countries import COUNTRY_CODES
from dotsync.data_contracts.currencies import CURRENCY_CODES

from tests.contracts.conftest import NOW, frame, order


@pytest.mark.parametrize(("raw", "code"), [("gb", "GB"), (" US ", "US"), ("aq", "AQ")])
def test_countries(raw: str, code: str) -> None:
    assert normalise_country(raw) == (code, None)


@pytest.mark.parametrize("raw", ["UK", "XK", "EU", "GBR", "", None, 44])
def test_not_countries(raw: object) -> None:
    code, reason = normalise_country(raw)
    assert code is None and reason


@pytest.mark.parametrize(("raw", "code"), [("eur", "EUR"), ("SLE", "SLE"), ("ZWG", "ZWG")])
def test_currencies(raw: str, code: str) -> None:
    assert normalise_currency(raw) == (code, None)


@pytest.mark.parametrize("raw", ["HRK", "SLL", "ZWL", "CUC", "BYR", "EEK", "XXY", "€", "", None])
def test_withdrawn_and_made_up_currencies_are_refused(raw: object) -> None:
    code, reason = normalise_currency(raw)
    assert code is None and reason


def test_the_lists_are_the_contracts_lists() -> None:
    assert {"GB", "US", "DE"} <= COUNTRY_CODES and "UK" not in COUNTRY_CODES
    assert {"GBP", "EUR", "USD"} <= CURRENCY_CODES and "HRK" not in CURRENCY_CODES
    result = validate_orders(frame([order(currency="hrk"), order(order_id="o2", currency="eur")]),
                             now=NOW)
    assert result.rejected_keys == ["o1"]
    assert "currency 'hrk' is not an ISO 4217 code" in result.rejects["reason"].iloc[0]
