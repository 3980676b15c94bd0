"""pandera contracts and normalisers for dotsync's three entities (SPEC §1).

Public API::

    validate_customers(df, default_region) -> ContractResult
    validate_orders(df, now=None) -> ContractResult
    validate_certificates(df, default_campaign_id) -> ContractResult
    merge_customers(valid) -> (contacts, merged)
    normalise_phone(raw, region=None) -> PhoneResult(e164, reason)
    normalise_email(raw) -> EmailResult(email, reason)

Names are loaded on first use, so that importing a light module such as
``data_contracts.phones`` (as pool workers do) does not import pandas and pandera.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ContractError": "data_contracts.result",
    "ContractResult": "data_contracts.result",
    "REJECT_COLUMNS": "data_contracts.result",
    "validate_customers": "data_contracts.customers",
    "merge_customers": "data_contracts.customers",
    "CUSTOMER_COLUMNS": "data_contracts.customers",
    "validate_orders": "data_contracts.orders",
    "ORDER_COLUMNS": "data_contracts.orders",
    "validate_certificates": "data_contracts.certificates",
    "CERTIFICATE_COLUMNS": "data_contracts.certificates",
    "normalise_phone": "data_contracts.phones",
    "PhoneResult": "data_contracts.phones",
    "normalise_email": "data_contracts.emails",
    "EmailResult": "data_contracts.emails",
    "normalise_currency": "data_contracts.currencies",
    "normalise_country": "data_contracts.countries",
}

__all__ = [
    "CERTIFICATE_COLUMNS",
    "CUSTOMER_COLUMNS",
    "ORDER_COLUMNS",
    "REJECT_COLUMNS",
    "ContractError",
    "ContractResult",
    "EmailResult",
    "PhoneResult",
    "merge_customers",
    "normalise_country",
    "normalise_currency",
    "normalise_email",
    "normalise_phone",
    "validate_certificates",
    "validate_customers",
    "validate_orders",
]

if TYPE_CHECKING:  # pragma: no cover
    from data_contracts.certificates import CERTIFICATE_COLUMNS, validate_certificates
    from data_contracts.countries import normalise_country
    from data_contracts.currencies import normalise_currency
    from data_contracts.customers import CUSTOMER_COLUMNS, merge_customers, validate_customers
    from data_contracts.emails import EmailResult, normalise_email
    from data_contracts.orders import ORDER_COLUMNS, validate_orders
    from data_contracts.phones import PhoneResult, normalise_phone
    from data_contracts.result import REJECT_COLUMNS, ContractError, ContractResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'data_contracts' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
