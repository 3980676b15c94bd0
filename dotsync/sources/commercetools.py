"""commercetools HTTP API resources → staging rows.

Resources: ``Customer`` (``GET /{projectKey}/customers``), ``Order``
(``/{projectKey}/orders``) and order-import drafts (``OrderFromCartDraft`` /
``OrderImportDraft`` shapes: no ``id``, an ``orderNumber``). commercetools has no
consent field on a customer and no gift cards: nothing is invented for either (see
``docs/SOURCES.md``, section "commercetools").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dotsync.sources.base import (
    EXACT,
    MappingError,
    Payload,
    Row,
    as_list,
    currency_exponent,
    email,
    exact_sum,
    get_path,
    iso_timestamp,
    money_text,
    obj,
    optional_timestamp,
    platform_id,
    scaled,
    text,
)

NAME = "commercetools"
ENVELOPES = {"customers": "results", "orders": "results"}
SINGLE: dict[str, str] = {}
#: The locale used for a ``LocalizedString`` when the order names none.
DEFAULT_LOCALES = ("en", "en-US", "en-GB", "de", "de-DE")


def id_of(payload: Payload) -> str | None:
    return (platform_id(payload.get("orderNumber")) or platform_id(payload.get("id"))
            or platform_id(payload.get("key")) or platform_id(payload.get("customerNumber")))


def _units(value: Any, name: str) -> tuple[int, int, str]:
    """A commercetools ``Money`` as ``(units, fractionDigits, currency)``: the amount
    is ``units`` × 10^-``fractionDigits`` (see :func:`money`). Kept as integers so the
    common amounts become text and sums without a ``Decimal`` per value."""
    m = obj(value, name)
    currency = text(m.get("currencyCode"))
    if currency is None:
        raise MappingError(f"{name}.currencyCode is missing")
    digits = m.get("fractionDigits")
    if digits is None:
        digits = currency_exponent(currency)
        if digits is None:
            raise MappingError(f"{name}.fractionDigits is missing and {currency!r} is "
                               "not an ISO 4217 currency with known minor units")
    if type(digits) is not int or not 0 <= digits <= 20:
        raise MappingError(f"{name}.fractionDigits is not a whole number from 0 to 20")
    if m.get("type") == "highPrecision" and m.get("preciseAmount") is not None:
        amount = m.get("preciseAmount")
        field = "preciseAmount"
    else:
        amount = m.get("centAmount")
        field = "centAmount"
    if type(amount) is not int:
        raise MappingError(f"{name}.{field} is missing or not a whole number")
    return amount, digits, currency


def money(value: Any, name: str) -> tuple[Decimal, str]:
    """A commercetools ``Money`` (``centPrecision`` or ``highPrecision``) exactly.

    ``centAmount`` × 10^-``fractionDigits``; a ``highPrecision`` value uses
    ``preciseAmount`` with its own ``fractionDigits``. A draft may leave
    ``fractionDigits`` out: then commercetools uses the currency's ISO 4217 minor
    units, and so does this.
    """
    amount, digits, currency = _units(value, name)
    return scaled(amount, digits), currency


def units_text(units: int, digits: int) -> str:
    """``units`` × 10^-``digits`` as the plain decimal text the store keeps, with
    exactly ``digits`` decimals: what ``money_text(scaled(units, digits))`` gives,
    by integer formatting alone (this runs for every amount of every order)."""
    if digits == 0:
        return str(units)
    shown_digits = str(-units if units < 0 else units).rjust(digits + 1, "0")
    sign = "-" if units < 0 else ""
    return f"{sign}{shown_digits[:-digits]}.{shown_digits[-digits:]}"


#: A sum of amounts with more digits than this goes through :func:`exact_sum`, which
#: refuses what it cannot add exactly (as every sum did before integer sums).
_INT_SUM_LIMIT = 10 ** 150


def units_sum(parts: list[tuple[int, int]]) -> Decimal | str:
    """The exact sum of ``(units, digits)`` amounts: text when they share their
    digits (integer addition), else the ``Decimal`` sum as before."""
    if parts:
        digits = parts[0][1]
        if all(d == digits for _, d in parts):
            total = sum(u for u, _ in parts)
            if -_INT_SUM_LIMIT < total < _INT_SUM_LIMIT:
                return units_text(total, digits)
    return exact_sum([scaled(u, d) for u, d in parts])


def localized(value: Any, locale: str | None) -> str | None:
    """One text of a ``LocalizedString``: the order's locale, its language, then
    English/German, then the first one present."""
    if isinstance(value, str):
        return text(value)
    if not isinstance(value, dict) or not value:
        return None
    keys = _LOCALE_KEYS.get(locale)
    if keys is None:
        keys = _locale_keys(locale)
    for key in keys:
        found = text(value.get(key))
        if found:
            return found
    for v in value.values():
        found = text(v)
        if found:
            return found
    return None


#: The keys :func:`localized` tries, per order locale (a handful of locales per
#: file: worked out once, not per line).
_LOCALE_KEYS: dict[str | None, tuple[str, ...]] = {}


def _locale_keys(locale: str | None) -> tuple[str, ...]:
    wanted = [locale, locale.split("-")[0]] if locale else []
    keys = tuple(k for k in [*wanted, *DEFAULT_LOCALES] if k)
    if len(_LOCALE_KEYS) < 1_000:
        _LOCALE_KEYS[locale] = keys
    return keys


def _address(c: Payload) -> dict[str, Any]:
    """The default billing address, else the default shipping one, else the first."""
    addresses = [a for a in as_list(c.get("addresses"), "addresses") if isinstance(a, dict)]
    for key in ("defaultBillingAddressId", "defaultShippingAddressId"):
        wanted = c.get(key)
        for a in addresses:
            if wanted is not None and a.get("id") == wanted:
                return a
    for key in ("billingAddressIds", "shippingAddressIds"):
        ids = c.get(key)
        for a in addresses:
            if isinstance(ids, list) and a.get("id") in ids:
                return a
    return addresses[0] if addresses else {}


def map_customer(payload: Any) -> Row:
    """One commercetools ``Customer`` → a ``customers`` row."""
    c = obj(payload, "a commercetools customer")
    ident = platform_id(c.get("id")) or platform_id(c.get("key"))
    if ident is None:
        raise MappingError("neither id nor key is present")
    address = _address(c)
    stores = [text(get_path(s, "key")) for s in as_list(c.get("stores"), "stores")]
    modified = c.get("lastModifiedAt") or c.get("createdAt")
    if modified is None:
        raise MappingError("lastModifiedAt is missing (a draft, not a stored customer)")
    return {
        "customer_id": ident,
        "email": email(c.get("email")),
        "first_name": text(c.get("firstName")),
        "last_name": text(c.get("lastName")),
        "mobile_number": text(address.get("mobile")) or text(address.get("phone")),
        "country": text(address.get("country")),
        "email_type": None,
        "opt_in_type": None,
        "email_consent": None,
        "sms_consent": None,
        "store": next((s for s in stores if s), None),
        "locale": text(c.get("locale")),
        "data_fields": None,
        "updated_at": iso_timestamp(modified, "lastModifiedAt"),
        "deleted_at": None,
        "consent_text": None,
        "consent_url": None,
        "consent_at": None,
        "consent_ip": None,
        "consent_user_agent": None,
    }


def _status(o: Payload) -> str:
    state = text(o.get("orderState")) or "Open"
    shipment = text(o.get("shipmentState"))
    if state in ("Open", "Confirmed") and shipment in ("Shipped", "Delivered"):
        return shipment.lower()
    return state.lower()


def _same(currency: str, found: str, name: str) -> None:
    if found != currency:
        raise MappingError(f"{name} is in {found!r}, the order in {currency!r}")


def refunded_total(o: Payload, currency: str) -> Decimal | None:
    """Successful ``Refund`` transactions of the order's payments, when the export
    expanded them (``expand=paymentInfo.payments[*]``); None when it did not."""
    found_any = False
    amounts: list[Decimal] = []
    payments = as_list(get_path(o, "paymentInfo", "payments"), "paymentInfo.payments")
    for i, ref in enumerate(payments):
        payment = get_path(ref, "obj")
        if not isinstance(payment, dict):
            continue
        for j, tx in enumerate(as_list(payment.get("transactions"),
                                       f"paymentInfo.payments[{i}].obj.transactions")):
            if get_path(tx, "type") == "Refund" and get_path(tx, "state") == "Success":
                amount, found = money(get_path(tx, "amount"),
                                      f"paymentInfo.payments[{i}].obj.transactions[{j}].amount")
                _same(currency, found, "a refund")
                amounts.append(amount)
                found_any = True
    return exact_sum(amounts) if found_any else None


def _lines(o: Payload, currency: str) -> tuple[list[dict[str, Any]], Decimal | str]:
    """The order's lines and their exact subtotal (text when the amounts share their
    ``fractionDigits``, see :func:`units_sum`)."""
    locale = text(o.get("locale"))
    lines: list[dict[str, Any]] = []
    parts: list[tuple[int, int]] = []
    for i, item in enumerate(as_list(o.get("lineItems"), "lineItems")):
        if type(item) is not dict:
            raise MappingError(f"lineItems[{i}] is not an object")
        price = get_path(item, "price", "value")
        units, digits, found = _units(price, f"lineItems[{i}].price.value")
        _same(currency, found, f"lineItems[{i}].price")
        line: dict[str, Any] = {"name": localized(item.get("name"), locale) or "",
                                "quantity": item.get("quantity"),
                                "unit_price": units_text(units, digits)}
        variant = item.get("variant")
        sku = (text(variant.get("sku")) if type(variant) is dict
               else text(get_path(variant, "sku"))) or text(item.get("sku"))
        if sku:
            line["sku"] = sku
        lines.append(line)
        if item.get("totalPrice") is not None:
            total_units, total_digits, _ = _units(item.get("totalPrice"),
                                                  f"lineItems[{i}].totalPrice")
            parts.append((total_units, total_digits))
    for i, item in enumerate(as_list(o.get("customLineItems"), "customLineItems")):
        if type(item) is not dict:
            raise MappingError(f"customLineItems[{i}] is not an object")
        units, digits, found = _units(item.get("money"), f"customLineItems[{i}].money")
        _same(currency, found, f"customLineItems[{i}].money")
        lines.append({"name": localized(item.get("name"), locale) or "",
                      "quantity": item.get("quantity"),
                      "unit_price": units_text(units, digits)})
        total = item.get("totalPrice")
        if total is not None:
            total_units, total_digits, _ = _units(total, f"customLineItems[{i}].totalPrice")
            parts.append((total_units, total_digits))
        else:
            parts.append((units * _qty(item.get("quantity"), f"customLineItems[{i}]"),
                          digits))
    for line in lines:
        line["quantity"] = _qty(line["quantity"], "a line")
    return lines, units_sum(parts)


def _qty(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{where}.quantity is missing or not a whole number")
    return value


def _shipping(o: Payload, currency: str) -> Decimal | str | None:
    prices = []
    info = o.get("shippingInfo")
    price = info.get("price") if type(info) is dict else get_path(info, "price")
    if price is not None:
        prices.append(price)
    for s in as_list(o.get("shipping"), "shipping"):
        if get_path(s, "shippingInfo", "price") is not None:
            prices.append(get_path(s, "shippingInfo", "price"))
    if not prices:
        return None
    parts = []
    for p in prices:
        units, digits, found = _units(p, "shippingInfo.price")
        _same(currency, found, "shippingInfo.price")
        parts.append((units, digits))
    return units_sum(parts)


def _amount_text(value: Decimal | str | None) -> str | None:
    """Stored text of an amount that is already text (integer path) or a Decimal."""
    return value if type(value) is str else money_text(value)  # type: ignore[arg-type]


def map_order(payload: Any) -> Row:
    """One commercetools ``Order`` (or order-import draft) → an ``orders`` row."""
    from dotsync.sources.rows import lines_json

    o = obj(payload, "a commercetools order")
    order_id = platform_id(o.get("orderNumber")) or platform_id(o.get("id"))
    if order_id is None:
        raise MappingError("neither orderNumber nor id is present")
    total_units, total_digits, currency = _units(o.get("totalPrice"), "totalPrice")
    total: Decimal | str = units_text(total_units, total_digits)
    lines, subtotal = _lines(o, currency)
    tax = None
    taxed = o.get("taxedPrice")
    if isinstance(taxed, dict):
        if taxed.get("totalTax") is not None:
            tax = money(taxed["totalTax"], "taxedPrice.totalTax")[0]
        elif taxed.get("totalGross") is not None and taxed.get("totalNet") is not None:
            tax = EXACT.subtract(money(taxed["totalGross"], "taxedPrice.totalGross")[0],
                                 money(taxed["totalNet"], "taxedPrice.totalNet")[0])
        if taxed.get("totalGross") is not None:
            total = money(taxed["totalGross"], "taxedPrice.totalGross")[0]
    discount = None
    on_total = get_path(o, "discountOnTotalPrice", "discountedAmount")
    if on_total is not None:
        discount = money(on_total, "discountOnTotalPrice.discountedAmount")[0]
    codes = [text(get_path(d, "discountCode", "obj", "code")) for d in
             as_list(o.get("discountCodes"), "discountCodes")]
    modified = o.get("lastModifiedAt") or o.get("createdAt") or o.get("completedAt")
    if modified is None:
        raise MappingError("lastModifiedAt is missing (an import draft carries no time: "
                           "load the order as commercetools returns it after the import)")
    placed = o.get("completedAt") or o.get("createdAt") or modified
    return {
        "order_id": order_id,
        "customer_id": platform_id(o.get("customerId")),
        "customer_email": email(o.get("customerEmail")),
        "status": _status(o),
        "currency": currency,
        "total": _amount_text(total),
        "subtotal": _amount_text(subtotal) if lines else None,
        "tax": money_text(tax),
        "shipping": _amount_text(_shipping(o, currency)),
        "discount": money_text(discount),
        "refunded": money_text(refunded_total(o, currency)),
        "placed_at": iso_timestamp(placed, "completedAt"),
        "updated_at": iso_timestamp(modified, "lastModifiedAt"),
        "lines": lines_json(lines),
        "store": text(get_path(o, "store", "key")),
        "coupon_code": ",".join(c for c in codes if c) or None,
    }


def map_certificate(payload: Any, **_: Any) -> Row:
    raise MappingError("commercetools has no gift cards: there is nothing to map")


__all__ = ["map_customer", "map_order", "money", "optional_timestamp"]
