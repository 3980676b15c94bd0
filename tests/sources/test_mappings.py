"""The mapping rules of docs/SOURCES.md, one behaviour at a time, plus hypothesis:
money is exact for arbitrary values and no JSON makes a mapping raise."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dotsync.sources import adobe_commerce, commercetools, mapper, shopify
from dotsync.sources.base import EXACT, MappingError, map_safely, platform_id


def _adobe_order(**extra):
    order = {
        "entity_id": 7, "increment_id": "000000007", "customer_id": 3,
        "customer_is_guest": 0, "customer_email": "jo@example.com",
        "order_currency_code": "EUR", "grand_total": 90, "subtotal": 100,
        "tax_amount": 0, "shipping_amount": 5, "discount_amount": -15.5,
        "status": "processing", "state": "processing",
        "created_at": "2024-01-02 10:00:00", "updated_at": "2024-01-03 11:00:00",
        "store_id": 1, "items": [],
    }
    order.update(extra)
    return order


def test_adobe_configurable_product_is_one_line_with_the_variant_sku():
    order = _adobe_order(items=[
        {"item_id": 10, "sku": "MH01-XS-Black", "name": "Chaz Kangeroo Hoodie",
         "product_type": "configurable", "qty_ordered": 1, "price": 52},
        {"item_id": 11, "parent_item_id": 10, "sku": "MH01-XS-Black",
         "name": "Chaz Kangeroo Hoodie-XS-Black", "product_type": "simple",
         "qty_ordered": 1, "price": 0},
    ])
    row = adobe_commerce.map_order(order)
    assert json.loads(row["lines"]) == [
        {"name": "Chaz Kangeroo Hoodie", "quantity": 1, "sku": "MH01-XS-Black",
         "unit_price": 52}]


def test_adobe_negative_discount_becomes_positive_and_naive_times_are_utc():
    row = adobe_commerce.map_order(_adobe_order(discount_amount=Decimal("-15.50")))
    assert row["discount"] == "15.50"
    assert row["placed_at"] == "2024-01-02T10:00:00+00:00"
    assert row["order_id"] == "000000007"


@pytest.mark.parametrize("guest", [
    {"customer_is_guest": 1, "customer_id": None},
    {"customer_is_guest": 1, "customer_id": 5},      # stale id on a guest order
    {"customer_is_guest": 0, "customer_id": None},
    {"customer_is_guest": 0, "customer_id": "None"},  # what str(None) wrote
])
def test_adobe_guest_order_names_no_customer(guest):
    row = adobe_commerce.map_order(_adobe_order(**guest))
    assert row["customer_id"] is None
    assert row["customer_email"] == "jo@example.com"


def test_adobe_line_without_sku_keeps_its_name_and_price():
    order = _adobe_order(items=[{"item_id": 1, "name": "Gift wrap", "qty_ordered": 1,
                                 "price": Decimal("2.50"), "sku": ""}])
    assert json.loads(adobe_commerce.map_order(order)["lines"]) == [
        {"name": "Gift wrap", "quantity": 1, "unit_price": 2.5}]


def test_adobe_credit_memo_is_not_an_order():
    memo = {"entity_id": 1, "order_id": 7, "increment_id": "000000001",
            "grand_total": 10, "adjustment": 0, "items": []}
    with pytest.raises(MappingError, match="credit memo"):
        adobe_commerce.map_order(memo)
    assert adobe_commerce.map_creditmemo(memo)["order_ref"] == "7"


def test_adobe_customer_newsletter_and_default_billing_phone():
    customer = {
        "id": 4, "email": "a@example.com", "firstname": "A", "lastname": "B",
        "default_billing": "9", "store_id": 2, "updated_at": "2024-05-01 08:00:00",
        "addresses": [
            {"id": 8, "telephone": "+44 20 7946 0000", "country_id": "GB"},
            {"id": 9, "telephone": "+49 30 123456", "country_id": "DE"},
        ],
        "extension_attributes": {"is_subscribed": True},
    }
    row = adobe_commerce.map_customer(customer)
    assert (row["mobile_number"], row["country"]) == ("+49 30 123456", "DE")
    assert row["email_consent"] == "subscribed"
    customer["extension_attributes"]["is_subscribed"] = False
    assert adobe_commerce.map_customer(customer)["email_consent"] is None


def test_adobe_gift_card_items_become_one_certificate_per_code():
    order = _adobe_order(items=[{
        "item_id": 21, "product_type": "giftcard", "sku": "gift", "name": "Gift Card",
        "qty_ordered": 2, "price": 25,
        "product_option": {"extension_attributes": {"giftcard_item_option": {
            "giftcard_amount": 25, "giftcard_recipient_email": "friend@example.com",
            "giftcard_created_codes": ["AAA111", "BBB222"]}}},
    }])
    rows = adobe_commerce.certificates_of_order(
        order, link_template="https://shop.example/gift/{code}")
    assert [(r["certificate_id"], r["code"], r["amount"], r["link"]) for r in rows] == [
        ("000000007-21-0", "AAA111", "25", "https://shop.example/gift/AAA111"),
        ("000000007-21-1", "BBB222", "25", "https://shop.example/gift/BBB222"),
    ]


def _ct_money(cents, digits=2, currency="EUR", **extra):
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents,
            "fractionDigits": digits, **extra}


def test_commercetools_money_cent_and_high_precision_and_missing_digits():
    assert commercetools.money(_ct_money(1234), "m") == (Decimal("12.34"), "EUR")
    assert commercetools.money(_ct_money(1500, 0, "JPY"), "m")[0] == Decimal(1500)
    high = {"type": "highPrecision", "currencyCode": "EUR", "centAmount": 1,
            "preciseAmount": 123456, "fractionDigits": 7}
    assert commercetools.money(high, "m")[0] == Decimal("0.0123456")
    assert commercetools.money({"currencyCode": "BHD", "centAmount": 1500}, "m")[0] \
        == Decimal("1.500")


def test_commercetools_order_status_locale_refunds_and_custom_lines():
    order = {
        "id": "o-1", "orderNumber": "1001", "createdAt": "2024-01-01T00:00:00Z",
        "lastModifiedAt": "2024-01-02T00:00:00Z", "orderState": "Confirmed",
        "shipmentState": "Shipped", "locale": "de-DE", "customerEmail": "x@example.com",
        "totalPrice": _ct_money(5000),
        "lineItems": [{"name": {"en": "Shirt", "de": "Hemd"}, "quantity": 2,
                       "variant": {"sku": "S-1"},
                       "price": {"value": _ct_money(2000)}, "totalPrice": _ct_money(4000)}],
        "customLineItems": [{"name": {"en": "Engraving"}, "quantity": 1,
                             "money": _ct_money(1000), "totalPrice": _ct_money(1000)}],
        "paymentInfo": {"payments": [{"typeId": "payment", "obj": {"transactions": [
            {"type": "Refund", "state": "Success", "amount": _ct_money(700)},
            {"type": "Refund", "state": "Failure", "amount": _ct_money(900)},
            {"type": "Charge", "state": "Success", "amount": _ct_money(5000)},
        ]}}]},
    }
    row = commercetools.map_order(order)
    assert row["order_id"] == "1001"
    assert row["status"] == "shipped"
    assert row["refunded"] == "7.00"
    assert row["subtotal"] == "50.00"
    assert json.loads(row["lines"]) == [
        {"name": "Hemd", "quantity": 2, "sku": "S-1", "unit_price": 20.0},
        {"name": "Engraving", "quantity": 1, "unit_price": 10.0}]


def test_commercetools_has_no_consent_and_no_gift_cards():
    row = commercetools.map_customer({"id": "c", "email": "a@example.com",
                                      "lastModifiedAt": "2024-01-01T00:00:00Z",
                                      "addresses": [{"id": "a", "mobile": "+3161234",
                                                     "country": "NL"}]})
    assert row["email_consent"] is None and row["sms_consent"] is None
    assert (row["mobile_number"], row["country"]) == ("+3161234", "NL")
    with pytest.raises(MappingError, match="no gift cards"):
        commercetools.map_certificate({})


@pytest.mark.parametrize(("state", "expected"), [
    ("subscribed", "subscribed"), ("pending", "pending"),
    ("unsubscribed", "unsubscribed"), ("redacted", "unsubscribed"),
    ("not_subscribed", None), ("invalid", None),
])
def test_shopify_consent_states(state, expected):
    customer = {"id": 1, "email": "a@example.com", "updated_at": "2024-01-01T00:00:00Z",
                "email_marketing_consent": {"state": state, "opt_in_level": "confirmed_opt_in",
                                            "consent_updated_at": "2023-12-01T00:00:00Z"},
                "sms_marketing_consent": {"state": state}}
    row = shopify.map_customer(customer)
    assert row["email_consent"] == expected
    assert row["sms_consent"] == expected
    assert row["opt_in_type"] == "double"
    assert row["consent_at"] == ("2023-12-01T00:00:00Z" if expected == "subscribed" else None)


def test_shopify_unknown_consent_state_is_reported_not_guessed():
    mapped = map_safely(shopify.map_customer, {"id": 1, "updated_at": "2024-01-01T00:00:00Z",
                        "email_marketing_consent": {"state": "maybe"}}, shopify.id_of)
    assert mapped.row is None and "maybe" in mapped.problem and mapped.platform_id == "1"


def _shopify_order(**extra):
    order = {"id": 9, "email": "b@example.com", "currency": "USD",
             "presentment_currency": "EUR", "total_price": "110.00",
             "total_price_set": {"shop_money": {"amount": "110.00", "currency_code": "USD"},
                                 "presentment_money": {"amount": "100.00",
                                                       "currency_code": "EUR"}},
             "financial_status": "paid", "fulfillment_status": None,
             "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
             "line_items": [{"name": "Tip", "quantity": 1, "price": "5.50",
                             "price_set": {"presentment_money": {"amount": "5.00",
                                                                 "currency_code": "EUR"}},
                             "sku": None}]}
    order.update(extra)
    return order


def test_shopify_amounts_are_in_the_presentment_currency():
    row = shopify.map_order(_shopify_order())
    assert (row["currency"], row["total"]) == ("EUR", "100.00")
    assert json.loads(row["lines"]) == [{"name": "Tip", "quantity": 1, "unit_price": 5.0}]


@pytest.mark.parametrize(("extra", "status"), [
    ({"cancelled_at": "2024-01-02T00:00:00Z"}, "cancelled"),
    ({"financial_status": "partially_refunded"}, "partially_refunded"),
    ({"fulfillment_status": "fulfilled"}, "fulfilled"),
    ({"fulfillment_status": "partial"}, "partially_fulfilled"),
    ({}, "paid"),
])
def test_shopify_status_from_cancel_financial_and_fulfillment(extra, status):
    assert shopify.map_order(_shopify_order(**extra))["status"] == status


def test_shopify_guest_order_has_no_customer_id():
    row = shopify.map_order(_shopify_order(customer=None))
    assert row["customer_id"] is None and row["customer_email"] == "b@example.com"
    row = shopify.map_order(_shopify_order(customer={"id": None, "email": "c@example.com"}))
    assert row["customer_id"] is None


@given(st.lists(st.tuples(st.decimals(min_value=0, max_value=10**9, places=2,
                                      allow_nan=False),
                          st.sampled_from(["success", "failure", "pending"])),
                max_size=8))
def test_shopify_refunds_are_summed_exactly(txs):
    order = _shopify_order(presentment_currency=None, total_price_set=None, refunds=[
        {"transactions": [{"kind": "refund", "status": s, "amount": str(a)}]}
        for a, s in txs])
    expected = sum((a for a, s in txs if s == "success"), Decimal(0))
    row = shopify.map_order(order)
    assert (Decimal(row["refunded"]) if row["refunded"] else None) == \
        (expected if txs else None)


@given(cents=st.integers(min_value=-(10**30), max_value=10**30),
       digits=st.integers(min_value=0, max_value=20))
def test_commercetools_cent_amount_is_exact(cents, digits):
    amount, _ = commercetools.money(_ct_money(cents, digits), "m")
    assert EXACT.multiply(amount, Decimal(10) ** digits) == cents
    assert Decimal(format(amount, "f")) == amount


@given(st.decimals(min_value=-(10**12), max_value=0, places=4, allow_nan=False))
def test_adobe_negative_discount_is_exact(discount):
    row = adobe_commerce.map_order(_adobe_order(discount_amount=discount))
    assert Decimal(row["discount"]) == -discount
    assert "E" not in row["discount"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from([
        "id", "email", "items", "line_items", "lineItems", "totalPrice", "centAmount",
        "fractionDigits", "currencyCode", "price", "quantity", "refunds", "transactions",
        "customer", "customer_id", "increment_id", "entity_id", "grand_total",
        "discount_amount", "updated_at", "lastModifiedAt", "created_at", "code",
        "email_marketing_consent", "state", "amount", "name", "qty_ordered", "value",
        "product_option", "addresses", "orderNumber", "total_price", "currency",
        "order_id", "qty", "qty_shipped", "qty_canceled", "is_virtual", "total_qty",
        "tracks", "balance", "date_expires", "status", "account_id",
    ]) | st.text(max_size=5), children, max_size=6),
    max_leaves=25)


@pytest.mark.parametrize("platform_entity", [
    ("adobe-commerce", "customers"), ("adobe-commerce", "orders"),
    ("adobe-commerce", "certificates"), ("adobe-commerce", "creditmemos"),
    ("adobe-commerce", "shipments"), ("adobe-commerce", "giftcardaccounts"),
    ("commercetools", "customers"), ("commercetools", "orders"),
    ("shopify", "customers"), ("shopify", "orders"), ("shopify", "certificates"),
])
@given(payload=_json)
def test_mapping_never_raises_on_arbitrary_json(platform_entity, payload):
    m = mapper(*platform_entity)
    mapped = map_safely(m.fn, payload, m.id_of)
    assert (mapped.row is None) != (mapped.problem is None)
    # Every problem is one the mapping names, never an internal error caught late.
    assert mapped.problem is None or not mapped.problem.startswith("cannot be mapped"), \
        mapped.problem


def test_none_like_ids_are_no_reference():
    for value in (None, "None", "null", "", "  ", True, [], {}):
        assert platform_id(value) is None
    assert platform_id(0) == "0"


def test_shopify_customer_without_default_address_uses_the_flagged_one():
    row = shopify.map_customer({
        "id": 1, "updated_at": "2024-01-01T00:00:00Z",
        "addresses": [{"country_code": "FR", "phone": "01 23"},
                      {"country_code": "DE", "phone": "030 1", "default": True}]})
    assert (row["country"], row["mobile_number"]) == ("DE", "030 1")
