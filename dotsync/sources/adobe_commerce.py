"""Adobe Commerce (Magento 2) REST ``V1`` resources → staging rows.

Resources: customers (``GET /V1/customers/search``), orders (``GET /V1/orders``),
credit memos (``GET /V1/creditmemos``: they feed the orders' ``refunded``) and gift
card items of orders (Adobe Commerce's ``giftcard`` product type) as certificates.
Rules and reasons: ``docs/SOURCES.md``, section "Adobe Commerce".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dotsync.sources.base import (
    MappingError,
    Payload,
    Row,
    as_list,
    decimal,
    email,
    get_path,
    iso_timestamp,
    money_text,
    obj,
    optional_decimal,
    optional_timestamp,
    platform_id,
    required_id,
    text,
)

NAME = "adobe-commerce"
ENVELOPES = {"customers": "items", "orders": "items", "certificates": "items",
             "creditmemos": "items"}
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
        "status": text(o.get("status")) or text(o.get("state")) or "",
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
