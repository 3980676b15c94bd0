"""Adobe Commerce (Magento 2) REST ``V1`` resources → staging rows.

Resources: customers (``GET /V1/customers/search``), orders (``GET /V1/orders``),
credit memos (``GET /V1/creditmemos``: they feed the orders' ``refunded``), shipments
(``GET /V1/shipments``: they feed the orders' ``status`` and fulfilment time), gift
card items of orders (Adobe Commerce's ``giftcard`` product type) as certificates, and
gift card accounts (``GET /V1/giftcardaccounts``: expiry and withdrawal of those
certificates).
Rules and reasons: ``docs/SOURCES.md``, section "Adobe Commerce".
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from dotsync.sources.base import (
    MappingError,
    Payload,
    Row,
    as_list,
    decimal,
    email,
    exact_sum,
    get_path,
    iso_timestamp,
    money_text,
    obj,
    optional_decimal,
    optional_timestamp,
    platform_id,
    required_id,
    shown,
    text,
)

NAME = "adobe-commerce"
ENVELOPES = {"customers": "items", "orders": "items", "certificates": "items",
             "creditmemos": "items", "shipments": "items", "giftcardaccounts": "items"}
SINGLE: dict[str, str] = {}
#: Keys of a search result besides ``items`` (``SearchResultsInterface``).
SEARCH_KEYS = frozenset({"items", "search_criteria", "total_count"})


def id_of(payload: Payload) -> str | None:
    return platform_id(payload.get("increment_id")) or platform_id(
        payload.get("entity_id")) or platform_id(payload.get("id"))


def _default_address(c: Payload) -> dict[str, Any]:
    """The default billing address (its ``telephone`` is the one a customer gives for
    the order), else the default shipping one, else the first."""
    addresses = [a for a in as_list(c.get("addresses"), "addresses") if isinstance(a, dict)]
    for flag, ref in (("default_billing", c.get("default_billing")),
                      ("default_shipping", c.get("default_shipping"))):
        for a in addresses:
            if a.get(flag) is True or (ref is not None and platform_id(a.get("id"))
                                       == platform_id(ref)):
                return a
    return addresses[0] if addresses else {}


def map_customer(payload: Any) -> Row:
    """One ``CustomerInterface`` → a ``customers`` row."""
    c = obj(payload, "an Adobe Commerce customer")
    if "increment_id" in c or "order_id" in c:
        raise MappingError("this is an order or credit memo, not a customer")
    address = _default_address(c)
    subscribed = get_path(c, "extension_attributes", "is_subscribed")
    return {
        "customer_id": required_id(c.get("id"), "id"),
        "email": email(c.get("email")),
        "first_name": text(c.get("firstname")),
        "last_name": text(c.get("lastname")),
        "mobile_number": text(address.get("telephone")),
        "country": text(address.get("country_id")),
        "email_type": None,
        "opt_in_type": None,
        # Newsletter "not subscribed" covers "never asked": null leaves an existing
        # contact's status alone and a new contact non-marketable.
        "email_consent": "subscribed" if subscribed is True else None,
        "sms_consent": None,
        "store": text(c.get("store_id")),
        "locale": None,
        "data_fields": None,
        "updated_at": iso_timestamp(c.get("updated_at") or c.get("created_at"),
                                    "updated_at"),
        "deleted_at": None,
        "consent_text": None,
        "consent_url": None,
        "consent_at": None,
        "consent_ip": None,
        "consent_user_agent": None,
    }


def _lines(o: Payload) -> list[dict[str, Any]]:
    """Top-level items only: a configurable product is one line (the parent, which
    carries the chosen variant's SKU, the price and the quantity), not parent + child;
    a bundle is one line at its own price."""
    lines = []
    for i, item in enumerate(as_list(o.get("items"), "items")):
        if not isinstance(item, dict):
            raise MappingError(f"items[{i}] is not an object")
        if item.get("parent_item_id") is not None or item.get("parent_item") is not None:
            continue
        qty = decimal(item.get("qty_ordered"), f"items[{i}].qty_ordered")
        price = decimal(item.get("price") if item.get("price") is not None
                        else item.get("base_price"), f"items[{i}].price")
        line: dict[str, Any] = {
            "name": text(item.get("name")) or "",
            "quantity": int(qty) if qty == qty.to_integral_value() else float(qty),
            "unit_price": money_text(price),
        }
        sku = text(item.get("sku"))
        if sku:
            line["sku"] = sku
        lines.append(line)
    return lines


def map_order(payload: Any) -> Row:
    """One ``OrderInterface`` → an ``orders`` row."""
    from dotsync.sources.rows import lines_json

    o = obj(payload, "an Adobe Commerce order")
    if "increment_id" not in o and "entity_id" not in o:
        raise MappingError("neither increment_id nor entity_id: not an order")
    if "order_id" in o:
        raise MappingError("this is a credit memo, invoice or shipment (it has order_id), "
                           "not an order")
    guest = o.get("customer_is_guest") in (1, True, "1")
    customer_id = None if guest else platform_id(o.get("customer_id"))
    discount = optional_decimal(o.get("discount_amount"), "discount_amount")
    return {
        "order_id": platform_id(o.get("increment_id")) or required_id(o.get("entity_id"),
                                                                      "entity_id"),
        "customer_id": customer_id,
        "customer_email": email(o.get("customer_email"))
        or email(get_path(o, "billing_address", "email")),
        "status": _shipped_status(o) or text(o.get("status")) or text(o.get("state"))
        or "",
        "currency": text(o.get("order_currency_code")),
        "total": money_text(decimal(o.get("grand_total"), "grand_total")),
        "subtotal": money_text(optional_decimal(o.get("subtotal"), "subtotal")),
        "tax": money_text(optional_decimal(o.get("tax_amount"), "tax_amount")),
        "shipping": money_text(optional_decimal(o.get("shipping_amount"), "shipping_amount")),
        # Adobe Commerce stores discounts as negative amounts.
        "discount": money_text(discount.copy_abs()) if discount is not None else None,
        "refunded": money_text(optional_decimal(o.get("total_refunded"), "total_refunded")),
        "placed_at": iso_timestamp(o.get("created_at"), "created_at"),
        "updated_at": iso_timestamp(o.get("updated_at") or o.get("created_at"),
                                    "updated_at"),
        "lines": lines_json(_lines(o)),
        "store": text(o.get("store_id")),
        "coupon_code": text(o.get("coupon_code")),
        # Not a staging column: lets credit memos (which name the entity_id) find it.
        "_entity_id": platform_id(o.get("entity_id")),
    }


#: Lifecycle states of an order whose goods have not all left: ``complete``, ``closed``,
#: ``canceled`` and ``holded`` keep the shop's own status.
_OPEN_STATES = frozenset({"new", "processing"})
_TRUE = (1, True, "1")


def _shipped_status(o: Payload) -> str | None:
    """``shipped`` / ``partially_shipped`` for an open order whose items say so.

    Adobe Commerce moves an order to ``complete`` only once it is shipped *and*
    invoiced, so a shipped order paid later (cash on delivery, invoice on account)
    stays ``processing``; its items' ``qty_shipped`` tell that the goods left, as
    Shopify's ``fulfillment_status`` and commercetools' ``shipmentState`` do. Virtual
    items (nothing to ship) and the children of configurable products and bundles
    (their parent line carries the quantity) are left out.
    """
    if text(o.get("state")) not in _OPEN_STATES:
        return None
    shipped_any = False
    waiting = False
    for i, item in enumerate(as_list(o.get("items"), "items")):
        if not isinstance(item, dict) or item.get("parent_item_id") is not None \
                or item.get("parent_item") is not None or item.get("is_virtual") in _TRUE:
            continue
        if item.get("qty_shipped") is None:
            return None  # an export without shipping quantities says nothing
        shipped = decimal(item.get("qty_shipped"), f"items[{i}].qty_shipped")
        taken = [optional_decimal(item.get(k), f"items[{i}].{k}") or Decimal(0)
                 for k in ("qty_canceled", "qty_refunded")]
        left = exact_sum([decimal(item.get("qty_ordered"), f"items[{i}].qty_ordered"),
                          *(q.copy_negate() for q in (shipped, *taken))])
        shipped_any = shipped_any or shipped > 0
        waiting = waiting or left > 0
    if not shipped_any:
        return None
    return "partially_shipped" if waiting else "shipped"


def map_shipment(payload: Any) -> dict[str, Any]:
    """One ``ShipmentInterface`` → ``{shipment_id, order_ref, qty, shipped_at}``: how
    many items left for which order (the order's ``entity_id``) and when; the loader
    keeps each shipment once and sets the order's status from their sum."""
    s = obj(payload, "an Adobe Commerce shipment")
    if "order_id" not in s:
        raise MappingError("order_id is missing: not a shipment")
    items = [item for item in as_list(s.get("items"), "items") if isinstance(item, dict)]
    if items:
        qty = exact_sum([decimal(item.get("qty"), f"items[{i}].qty")
                         for i, item in enumerate(items)])
    else:
        qty = decimal(s.get("total_qty"), "total_qty")
    return {
        "shipment_id": required_id(s.get("entity_id"), "entity_id"),
        "order_ref": required_id(s.get("order_id"), "order_id"),
        "qty": qty,
        "shipped_at": iso_timestamp(s.get("created_at"), "created_at"),
    }


def shipment_id(payload: Payload) -> str | None:
    return platform_id(payload.get("increment_id")) or platform_id(payload.get("entity_id"))


def map_giftcardaccount(payload: Any) -> dict[str, Any]:
    """One gift card account → ``{code, expires_at, enabled}``, applied by the loader
    to the certificate staged with that code (from the order item that bought it).

    An account names no recipient and no currency (the website's base currency), so
    it never makes a certificate on its own; its ``balance``, ``state`` (available,
    used, redeemed, expired) and ``is_redeemable`` have no place in a Dotdigital
    certificate, which carries the value the card was issued with.
    """
    g = obj(payload, "an Adobe Commerce gift card account")
    code = text(g.get("code"))
    if code is None:
        raise MappingError("code is missing: not a gift card account")
    expires = text(g.get("date_expires"))
    status = g.get("status")
    if status not in (None, 0, 1, "0", "1", True, False):
        raise MappingError(f"status {shown(status)} is neither 0 (disabled) nor 1 (enabled)")
    return {
        "account_id": giftcardaccount_id(g),
        "code": code,
        # A date: the card is valid through that day (UTC), as for Shopify's expires_on.
        "expires_at": f"{expires[:10]}T23:59:59+00:00" if expires
        and _DATE.fullmatch(expires[:10]) and len(expires) in (10, 19)
        else optional_timestamp(expires, "date_expires"),
        "enabled": status not in (0, "0", False),
    }


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def giftcardaccount_id(payload: Payload) -> str | None:
    return platform_id(payload.get("account_id")) or platform_id(payload.get("id")) \
        or platform_id(payload.get("giftcardaccount_id"))


def map_creditmemo(payload: Any) -> dict[str, Any]:
    """One ``CreditmemoInterface`` → ``{refund_id, order_ref, amount, currency}``: what it
    gave back to which order (the order's ``entity_id``), summed by the loader."""
    m = obj(payload, "an Adobe Commerce credit memo")
    if "order_id" not in m:
        raise MappingError("order_id is missing: not a credit memo")
    state = m.get("state")
    return {
        "refund_id": required_id(m.get("entity_id"), "entity_id"),
        "order_ref": required_id(m.get("order_id"), "order_id"),
        # state 3 is "canceled" (Creditmemo::STATE_CANCELED): it gave nothing back.
        "amount": Decimal(0) if state in (3, "3") else decimal(m.get("grand_total"),
                                                               "grand_total"),
        "currency": text(m.get("order_currency_code")),
    }


def creditmemo_id(payload: Payload) -> str | None:
    return platform_id(payload.get("increment_id")) or platform_id(payload.get("entity_id"))


def certificates_of_order(payload: Any, *, link_template: str | None = None) -> list[Row]:
    """Gift card items of one order → ``certificates`` rows, one per created code.

    Adobe Commerce puts what the buyer entered (recipient, amount) in the item's
    ``product_option.extension_attributes.giftcard_item_option`` and the codes it
    generated in ``giftcard_created_codes``; a card without codes yet (not invoiced)
    has nothing to send.
    """
    o = obj(payload, "an Adobe Commerce order")
    order_ref = platform_id(o.get("increment_id")) or required_id(o.get("entity_id"),
                                                                  "entity_id")
    currency = text(o.get("order_currency_code"))
    rows: list[Row] = []
    for i, item in enumerate(as_list(o.get("items"), "items")):
        if not isinstance(item, dict) or item.get("product_type") != "giftcard":
            continue
        option = get_path(item, "product_option", "extension_attributes",
                          "giftcard_item_option")
        if not isinstance(option, dict):
            raise MappingError(f"items[{i}] is a gift card without giftcard_item_option")
        recipient = email(option.get("giftcard_recipient_email"))
        if recipient is None:
            raise MappingError(f"items[{i}].giftcard_recipient_email is missing")
        codes = as_list(option.get("giftcard_created_codes"),
                        f"items[{i}].giftcard_created_codes")
        amount = option.get("giftcard_amount")
        if amount in (None, "custom", ""):
            amount = option.get("custom_giftcard_amount")
        if amount is None:
            amount = item.get("price")
        for n, code in enumerate(codes):
            code_text = text(code)
            if code_text is None:
                continue
            link = link_template.format(code=code_text, id=order_ref) if link_template \
                else None
            if link is None:
                raise MappingError("no link: Adobe Commerce gives no gift card URL; pass "
                                   "--certificate-link 'https://…{code}'")
            rows.append({
                "certificate_id": f"{order_ref}-{platform_id(item.get('item_id')) or i}-{n}",
                "recipient_email": recipient,
                "code": code_text,
                "amount": money_text(decimal(amount, f"items[{i}].giftcard_amount")),
                "currency": currency,
                "link": link,
                "expires_at": optional_timestamp(option.get("giftcard_expires_at"),
                                                 "giftcard_expires_at"),
                "campaign_id": None,
                "updated_at": iso_timestamp(o.get("updated_at") or o.get("created_at"),
                                            "updated_at"),
            })
    return rows
