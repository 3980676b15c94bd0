"""What kind of platform object a JSON object is, from the keys each API documents.

Used to refuse a file of the wrong kind (customers given as orders, a credit memo
given as a search result) with a message naming what was expected and what was
found, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Human names of the kinds, for messages.
NAMES = {
    "customers": "a customer",
    "orders": "an order",
    "certificates": "a gift card",
    "creditmemos": "a credit memo",
    "invoices": "an invoice",
    "shipments": "a shipment",
    "giftcardaccounts": "a gift card account",
    "order_items": "an order item",
    "carts": "a cart",
    "payments": "a payment",
    "products": "a product",
    "refunds": "a refund",
}


def _shopify(o: Mapping[str, Any]) -> str | None:
    if "line_items" in o and ("financial_status" in o or "total_price" in o):
        return "orders" if "invoice_url" not in o else "carts"
    if "refund_line_items" in o:
        return "refunds"
    if "initial_value" in o or "last_characters" in o:
        return "certificates"
    if "variants" in o and "title" in o:
        return "products"
    if "email_marketing_consent" in o or "orders_count" in o or "default_address" in o \
            or ("addresses" in o and "email" in o):
        return "customers"
    return None


def _commercetools(o: Mapping[str, Any]) -> str | None:
    kind = o.get("type")
    if kind == "Order" or ("lineItems" in o and "orderState" in o):
        return "orders"
    if kind == "Cart" or "cartState" in o:
        return "carts"
    if "amountPlanned" in o:
        return "payments"
    if "masterVariant" in o or "masterData" in o:
        return "products"
    if "lineItems" in o and "totalPrice" in o:
        return "orders"  # an order-import draft
    if "email" in o and ("addresses" in o or "isEmailVerified" in o or "password" in o
                         or "customerNumber" in o):
        return "customers"
    return None


def _adobe(o: Mapping[str, Any]) -> str | None:
    if "order_id" in o:
        if "adjustment" in o or "adjustment_positive" in o or "creditmemo_status" in o:
            return "creditmemos"
        # Keys only ShipmentInterface has among the order documents (REST schema).
        if "tracks" in o or "packages" in o or "shipment_status" in o \
                or "total_weight" in o or "shipping_label" in o or "customer_id" in o:
            return "shipments"
        if "item_id" in o or "qty_ordered" in o:
            return "order_items"
        return "invoices" if "can_void_flag" in o else "creditmemos"
    if "increment_id" in o or "order_currency_code" in o:
        return "orders"
    if "item_id" in o and "sku" in o:
        return "order_items"
    if "code" in o and "balance" in o and ("account_id" in o or "is_redeemable" in o
                                          or "date_expires" in o):
        return "giftcardaccounts"
    if "email" in o and ("firstname" in o or "group_id" in o or "website_id" in o):
        return "customers"
    return None


GUESSERS = {"shopify": _shopify, "commercetools": _commercetools, "adobe-commerce": _adobe}


def guess(platform: str, payload: Any) -> str | None:
    """The kind of ``payload`` (``orders``, ``customers`` …), or None when unsure."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        return None
    return GUESSERS[platform](payload)


def expected_kind(platform: str, entity: str) -> str:
    """The kind of object a file for ``entity`` must hold (Adobe Commerce gift cards
    are read from orders)."""
    if platform == "adobe-commerce" and entity == "certificates":
        return "orders"
    return entity
