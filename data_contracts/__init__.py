"""pandera contracts and normalisers for dotsync's three entities (SPEC §1).

Public API::

    validate_customers(df, default_region) -> ContractResult
    validate_orders(df, now=None) -> ContractResult
    validate_certificates(df, default_campaign_id) -> ContractResult
    merge_customers(valid) -> (contacts, merged)
    normalise_phone(raw, region=None) -> PhoneResult(e164, reason)
    normalise_email(raw) -> EmailResult(email, reason)

Rules every contract follows (beyond SPEC §1, which they implement column by column):

* Null: ``None``, ``NaN``/``NaT`` and text that is empty or only whitespace (as
  ``str.strip`` sees it) are all null. Other text is stripped of surrounding whitespace,
  except record keys (``customer_id``, ``order_id``, ``certificate_id`` and the
  ``customer_id`` an order refers to), which are kept exactly as given.
* Typed values from Parquet loads are accepted: numbers in text columns become their
  digits, Decimals/ints/floats in decimal columns, datetimes in timestamp columns,
  dicts and lists in JSON columns. Other types are rejected (check ``type``).
* Text may not hold C0/C1 control characters (tab, newline and carriage return are
  allowed) or lone surrogates (check ``control_chars``): they break stores, JSON and
  terminals further on. Formula-like text (``=HYPERLINK(…)``) is ordinary data.
* Timestamps without an offset are UTC.
* ``valid`` keeps the input's index and row order; text columns are object columns of
  ``str``/``None``; input columns outside the contract are passed through untouched.
* ``rejects`` has one row per problem: ``key``, ``field``, ``check``, ``value`` (cut to
  ~80 characters, control characters escaped), ``reason``, and ``row`` (the input index
  label, for records whose key is missing or repeated). A row with any such problem is
  left out of ``valid``; nothing else is.
* A problem in an optional field (``dotsync.data_contracts.optional.OPTIONAL_FIELDS``) is a
  *warning* instead: the field is left out of the row in ``valid`` (None/NaN/NaT, or the
  bad entry of a data-field dict or the bad sku/categories of a line), and ``warnings``
  (same columns; ``value`` and ``reason`` masked for personal fields) says so. Each
  contract takes ``strict``, the fields whose problems reject as before
  (``DOTSYNC_STRICT_FIELDS``). To make a new column optional, add it to
  ``OPTIONAL_FIELDS`` (and to ``PERSONAL_FIELDS`` if its values are personal): every
  check made through ``Run`` (``text``, ``timestamp``, ``add``, ``report``, pandera
  failures) then routes its problems.
* Large frames use a process pool (see :mod:`dotsync.data_contracts.parallel`); as with any
  multiprocessing, a script that calls the contracts at import time must guard its
  entry point with ``if __name__ == "__main__":``.

Names are loaded on first use, so that importing a light module such as
``dotsync.data_contracts.phones`` (as pool workers do) does not import pandas and pandera.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ContractError": "dotsync.data_contracts.result",
    "ContractResult": "dotsync.data_contracts.result",
    "REJECT_COLUMNS": "dotsync.data_contracts.result",
    "validate_customers": "dotsync.data_contracts.customers",
    "merge_customers": "dotsync.data_contracts.customers",
    "CUSTOMER_COLUMNS": "dotsync.data_contracts.customers",
    "validate_orders": "dotsync.data_contracts.orders",
    "ORDER_COLUMNS": "dotsync.data_contracts.orders",
    "validate_certificates": "dotsync.data_contracts.certificates",
    "CERTIFICATE_COLUMNS": "dotsync.data_contracts.certificates",
    "normalise_phone": "dotsync.data_contracts.phones",
    "PhoneResult": "dotsync.data_contracts.phones",
    "normalise_email": "dotsync.data_contracts.emails",
    "EmailResult": "dotsync.data_contracts.emails",
    "normalise_currency": "dotsync.data_contracts.currencies",
    "normalise_country": "dotsync.data_contracts.countries",
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
    from dotsync.data_contracts.certificates import CERTIFICATE_COLUMNS, validate_certificates
    from dotsync.data_contracts.countries import normalise_country
    from dotsync.data_contracts.currencies import normalise_currency
    from dotsync.data_contracts.customers import (
        CUSTOMER_COLUMNS,
        merge_customers,
        validate_customers,
    )
    from dotsync.data_contracts.emails import EmailResult, normalise_email
    from dotsync.data_contracts.orders import ORDER_COLUMNS, validate_orders
    from dotsync.data_contracts.phones import PhoneResult, normalise_phone
    from dotsync.data_contracts.result import REJECT_COLUMNS, ContractError, ContractResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'data_contracts' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
