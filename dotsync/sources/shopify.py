"""Shopify Admin API (REST) resources → staging rows.

Resources: ``customer`` (``GET /admin/api/{version}/customers.json``), ``order``
(``/orders.json``, with its ``refunds`` and ``fulfillments``) and ``gift_card``
(``/gift_cards.json``, Shopify Plus). Each rule and the reason for it is in
``docs/SOURCES.md`` (section "Shopify"); a change here changes a golden row in
``tests/sources/``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dotsync.sources.base import (
    PLAIN_AMOUNT,
    MappingError,
    Payload,
    Row,
    amount_text,
    as_list,
    decimal,
    email,
    exact_sum,
    get_path,
    iso_timestamp,
    money_text,
    obj,
    optional_timestamp,
    platform_id,
    required_id,
    text,
)
from dotsync.sources.rows import encode_text

NAME = "shopify"
#: The key of each list endpoint's envelope, per staging entity.
ENVELOPES = {"customers": "customers", "orders": "orders", "certificates": "gift_cards"}
#: The key of a single-resource response (``GET /orders/{id}.json``).
SINGLE = {"customers": "customer", "orders": "order", "certificates": "gift_card"}

#: ``email_marketing_consent.state`` / ``sms_marketing_consent.state`` → staging value.
#: ``not_subscribed`` and ``invalid`` say nothing about a wish to stop mail: null keeps
#: an existing contact as it is and leaves a new one non-marketable (SPEC §1).
#: ``redacted`` (GDPR erasure request) must never be marketed to: unsubscribed.
CONSENT_STATES: dict[str, str | None] = {
    "subscribed": "subscribed",
    "pending": "pending",
    "unsubscribed": "unsubscribed",
    "redacted": "unsubscribed",
    "not_subscribed": None,
    "invalid": None,
}
#: ``opt_in_level`` → staging ``opt_in_type``.
OPT_IN_LEVELS = {"single_opt_in": "single", "confirmed_opt_in": "double", "unknown": "unknown"}


def id_of(payload: Payload) -> str | None:
    return platform_id(payload.get("id"))


def _consent(value: Any, field: str) -> str | None:
    if value is None:
        return None
    state = get_path(value, "state")
    if not isinstance(state, str):
        raise MappingError(f"{field}.state is missing or not text")
    key = state.strip().lower()
    if key not in CONSENT_STATES:
        raise MappingError(
            f"{field}.state {state!r} is not one Shopify documents "
            f"({', '.join(CONSENT_STATES)})"
        )
    return CONSENT_STATES[key]


def map_customer(payload: Any) -> Row:
    """One Shopify ``customer`` → a ``customers`` row."""
    c = obj(payload, "a Shopify customer")
    address = get_path(c, "default_address")
    if not isinstance(address, dict):  # a list export may leave it out: the flagged one
        listed = [a for a in as_list(c.get("addresses"), "addresses") if isinstance(a, dict)]
        address = next((a for a in listed if a.get("default") is True),
                       listed[0] if listed else {})
    email_consent_obj = c.get("email_marketing_consent")
    email_consent = _consent(email_consent_obj, "email_marketing_consent")
    if email_consent_obj is None and c.get("accepts_marketing") is True:
        email_consent = "subscribed"  # API versions before 2022-04
    sms_consent = _consent(c.get("sms_marketing_consent"), "sms_marketing_consent")
    level = get_path(email_consent_obj, "opt_in_level")
    consent_at = None
    if email_consent == "subscribed":
        consent_at = optional_timestamp(get_path(email_consent_obj, "consent_updated_at"),
                                        "email_marketing_consent.consent_updated_at")
    return {
        "customer_id": required_id(c.get("id"), "id"),
        "email": email(c.get("email")),
        "first_name": text(c.get("first_name")),
        "last_name": text(c.get("last_name")),
        "mobile_number": text(c.get("phone")) or text(address.get("phone")),
        "country": text(address.get("country_code")),
        "email_type": None,
        "opt_in_type": OPT_IN_LEVELS.get(level) if isinstance(level, str) else None,
        "email_consent": email_consent,
        "sms_consent": sms_consent,
        "store": None,
        "locale": text(c.get("locale")),
        "data_fields": None,
        "updated_at": iso_timestamp(c.get("updated_at"), "updated_at"),
        "deleted_at": None,
        "consent_text": None,
        "consent_url": None,
        "consent_at": consent_at,
        "consent_ip": None,
        "consent_user_agent": None,
    }


def _amount(order: Payload, plain: str, currency: str) -> str | None:
    """An order amount in the presentment currency: ``<plain>_set.presentment_money``
    when Shopify sends it, else the plain field (which is in the shop currency, the
    same as presentment whenever the set is absent on older API versions)."""
    money_set = order.get(_SET_KEYS.get(plain) or f"{plain}_set")
    money = money_set.get("presentment_money") if type(money_set) is dict else None
    if type(money) is dict:
        amount = money.get("amount")
        if amount is not None:
            found = money.get("currency_code")
            if found is not None and found != currency:
                raise MappingError(f"{plain}_set.presentment_money is in {found!r}, the "
                                   f"order in {currency!r}")
            if type(amount) is str and PLAIN_AMOUNT.fullmatch(amount):
                return amount  # the common case, as amount_text would keep it
            return amount_text(amount, f"{plain}_set.presentment_money.amount")
    value = order.get(plain)
    return None if value is None else amount_text(value, plain)


#: ``<amount>_set`` keys, spelled once rather than per order.
_SET_KEYS = {k: f"{k}_set" for k in ("total_price", "subtotal_price", "total_tax",
                                     "total_shipping_price", "total_discounts")}


def _status(order: Payload) -> str:
    if order.get("cancelled_at"):
        return "cancelled"
    financial = text(order.get("financial_status"))
    fulfillment = text(order.get("fulfillment_status"))
    if financial in {"refunded", "partially_refunded", "voided"}:
        return financial
    if fulfillment == "fulfilled":
        return "fulfilled"
    if fulfillment == "partial":
        return "partially_fulfilled"
    if fulfillment == "restocked":
        return "restocked"
    return financial or "open"


def refunded_total(order: Payload) -> Decimal | None:
    """The money given back: successful ``refund`` transactions of every refund.

    Refund transactions are in the presentment currency (the currency the customer
    paid in); a refund without transactions (restock only) gave no money back.
    """
    refunds = as_list(order.get("refunds"), "refunds")
    if not refunds:
        return None
    amounts: list[Decimal] = []
    for i, refund in enumerate(refunds):
        for j, tx in enumerate(as_list(get_path(refund, "transactions"),
                                       f"refunds[{i}].transactions")):
            if not isinstance(tx, dict):
                raise MappingError(f"refunds[{i}].transactions[{j}] is not an object")
            if tx.get("kind") == "refund" and tx.get("status") in ("success", None):
                amounts.append(decimal(tx.get("amount"),
                                       f"refunds[{i}].transactions[{j}].amount"))
    return exact_sum(amounts)


def _lines(order: Payload, currency: str) -> str:
    """``line_items`` as the ``lines`` JSON text (see :func:`rows.lines_json`), written
    in one pass: it runs for every line of every order."""
    parts = []
    for i, item in enumerate(as_list(order.get("line_items"), "line_items")):
        if type(item) is not dict:
            raise MappingError(f"line_items[{i}] is not an object")
        price_set = item.get("price_set")
        money = price_set.get("presentment_money") if type(price_set) is dict else None
        price = money.get("amount") if type(money) is dict else None
        if price is None:
            price = item.get("price")
        unit = price if type(price) is str and PLAIN_AMOUNT.fullmatch(price) \
            else amount_text(price, f"line_items[{i}].price")
        quantity = item.get("quantity")
        if type(quantity) is not int:
            if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
                raise MappingError(f"line_items[{i}].quantity is not a number")
            quantity = int(quantity) if quantity == int(quantity) else str(quantity)
        name = text(item.get("name")) or text(item.get("title")) or ""
        out = f'{{"name":{encode_text(name)},"quantity":' + (
            str(quantity) if type(quantity) is int else encode_text(quantity))
        sku = text(item.get("sku"))
        if sku:
            out += f',"sku":{encode_text(sku)}'
        vendor = text(item.get("vendor"))
        if vendor:
            out += f',"categories":[{encode_text(vendor)}]'
        parts.append(f'{out},"unit_price":{unit}}}')
    return "[" + ",".join(parts) + "]"


def map_order(payload: Any) -> Row:
    """One Shopify ``order`` → an ``orders`` row (see docs/SOURCES.md)."""
    o = obj(payload, "a Shopify order")
    currency = text(o.get("presentment_currency")) or text(o.get("currency"))
    if currency is None:
        raise MappingError("presentment_currency and currency are both missing")
    customer = o.get("customer")
    customer_id = platform_id(get_path(customer, "id")) if isinstance(customer, dict) else None
    customer_email = (email(o.get("email")) or email(o.get("contact_email"))
                      or email(get_path(customer, "email")))
    shipping = _amount(o, "total_shipping_price", currency)
    if shipping is None and o.get("shipping_lines") is not None:
        shipping = money_text(exact_sum([
            decimal(get_path(s, "price"), f"shipping_lines[{i}].price")
            for i, s in enumerate(as_list(o.get("shipping_lines"), "shipping_lines"))]))
    codes = [c for c in (text(get_path(d, "code")) for d in
                         as_list(o.get("discount_codes"), "discount_codes")) if c]
    total = _amount(o, "total_price", currency)
    if total is None:
        raise MappingError("total_price is missing")
    return {
        "order_id": required_id(o.get("id"), "id"),
        "customer_id": customer_id,
        "customer_email": customer_email,
        "status": _status(o),
        "currency": currency,
        "total": total,
        "subtotal": _amount(o, "subtotal_price", currency),
        "tax": _amount(o, "total_tax", currency),
        "shipping": shipping,
        "discount": _amount(o, "total_discounts", currency),
        "refunded": money_text(refunded_total(o)),
        "placed_at": iso_timestamp(o.get("processed_at") or o.get("created_at"),
                                   "processed_at"),
        "updated_at": iso_timestamp(o.get("updated_at"), "updated_at"),
        "lines": _lines(o, currency),
        "store": None,
        "coupon_code": ",".join(codes) or None,
    }


def map_certificate(payload: Any, *, link_template: str | None = None) -> Row:
    """One Shopify ``gift_card`` → a ``certificates`` row.

    The REST resource holds the full ``code`` only in the response that created the
    card (later reads give ``last_characters``), and no recipient e-mail: the
    recipient is ``customer_id`` (resolved against the staged customers by the
    loader) unless the export carries ``recipient_email`` or ``customer.email``.
    Shopify gives no card URL: ``link_template`` (e.g.
    ``https://shop.example/gift?code={code}``) makes one.
    """
    g = obj(payload, "a Shopify gift card")
    code = text(g.get("code"))
    if code is None:
        raise MappingError("no code: Shopify returns a gift card's full code only when it "
                           "is created (later reads hold last_characters only)")
    if g.get("disabled_at"):
        raise MappingError("the gift card is disabled (disabled_at is set): not sent")
    link = text(g.get("url")) or text(g.get("link"))
    if link is None and link_template:
        link = link_template.format(code=code, id=platform_id(g.get("id")) or "")
    if link is None:
        raise MappingError("no link: Shopify gives no gift card URL; pass "
                           "--certificate-link 'https://…{code}'")
    amount = g.get("initial_value") if g.get("initial_value") is not None else g.get("balance")
    recipient = (email(g.get("recipient_email")) or email(get_path(g, "customer", "email"))
                 or email(get_path(g, "recipient", "email")))
    ref = platform_id(g.get("recipient_id")) or platform_id(g.get("customer_id"))
    if recipient is None and ref is None:
        raise MappingError("no recipient: neither recipient_email nor customer_id")
    expires = text(g.get("expires_on"))
    return {
        "certificate_id": required_id(g.get("id"), "id"),
        "recipient_email": recipient,
        "code": code,
        "amount": money_text(decimal(amount, "initial_value")),
        "currency": text(g.get("currency")),
        "link": link,
        "expires_at": f"{expires}T23:59:59+00:00" if expires and len(expires) == 10
        else optional_timestamp(expires, "expires_on"),
        "campaign_id": None,
        "updated_at": iso_timestamp(g.get("updated_at") or g.get("created_at"), "updated_at"),
        "_recipient_ref": None if recipient else ref,
    }
