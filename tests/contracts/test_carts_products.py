"""The carts and products contracts (SPEC §1, issue 16): one passing and one failing
example per rule, with the per-record reasons a user reads in ``dotsync rejects``."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from dotsync.data_contracts.carts import validate_carts
from dotsync.data_contracts.products import validate_products

from tests.contracts.conftest import frame, rejects_of

LINES = json.dumps([{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "4.50"}])


def cart(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cart_id": "K1", "customer_id": None, "customer_email": " Jo@Example.com ",
        "currency": "eur", "lines": LINES, "subtotal": "9.00", "total": "9.00",
        "url": "https://shop.example/cart/K1", "created_at": "2026-01-01T10:00:00Z",
        "updated_at": "2026-01-01T10:05:00Z", "converted_order_id": None,
        "converted_at": None,
    }
    row.update(overrides)
    return row


def product(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "sku": "MUG", "store": "uk", "name": "Mug", "price": "4.50", "sale_price": None,
        "currency": "gbp", "url": "https://shop.example/mug", "image_url": None,
        "categories": '["Kitchen", "Gifts"]', "stock": "12", "status": "Enabled",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    row.update(overrides)
    return row


def test_a_good_cart_is_normalised() -> None:
    result = validate_carts(frame([cart()]))
    assert rejects_of(result) == []
    row = result.valid.iloc[0]
    assert (row["customer_email"], row["currency"], row["total"]) == (
        "jo@example.com", "EUR", 9.0)
    assert row["lines"][0]["quantity"] == 2
    assert row["updated_at"] == pd.Timestamp("2026-01-01T10:05:00Z")


@pytest.mark.parametrize("lines", [None, "", "[]", " [] "])
def test_an_empty_cart_is_valid(lines: Any) -> None:
    result = validate_carts(frame([cart(lines=lines)]))
    assert rejects_of(result) == []
    assert result.valid.iloc[0]["lines"] == []


@pytest.mark.parametrize(
    ("overrides", "field", "check", "words"),
    [
        ({"currency": "EURO"}, "currency", "iso4217", "not an ISO 4217 code"),
        ({"currency": None}, "currency", None, "currency"),
        ({"customer_email": None}, "customer_email", "required", "or a customer_id"),
        ({"customer_email": "not-an-email"}, "customer_email", "email_syntax", None),
        ({"lines": '[{"name": "Mug", "quantity": 0, "unit_price": 1}]'}, "lines",
         "positive", "quantity"),
        ({"lines": "{not json"}, "lines", "json_syntax", "not valid JSON"),
        ({"updated_at": "yesterday"}, "updated_at", "iso8601", "ISO 8601"),
        ({"converted_at": "soon"}, "converted_at", "iso8601", "ISO 8601"),
    ],
)
def test_cart_rejects_name_field_and_reason(overrides, field, check, words) -> None:
    result = validate_carts(frame([cart(**overrides)]))
    found = result.rejects.to_dict("records")
    assert [r["key"] for r in found] == ["K1"]
    assert found[0]["field"] == field
    if check is not None:
        assert found[0]["check"] == check
    if words is not None:
        assert words in found[0]["reason"]


def test_a_cart_takes_its_customers_email() -> None:
    result = validate_carts(frame([cart(customer_email=None, customer_id="C9")]),
                            customer_emails={"C9": "Ann@Example.com"})
    assert result.valid["customer_email"].tolist() == ["ann@example.com"]
    unknown = validate_carts(frame([cart(customer_email=None, customer_id="C0")]))
    assert rejects_of(unknown) == [("K1", "customer_email", "unknown_customer")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"total": "-1"}, "total"), ({"subtotal": "abc"}, "subtotal"),
     ({"url": "http://shop.example/cart"}, "url")],
)
def test_optional_cart_fields_warn_and_are_left_out(overrides, field) -> None:
    result = validate_carts(frame([cart(**overrides)]))
    assert rejects_of(result) == []
    assert result.warnings["field"].tolist() == [field]
    assert pd.isna(result.valid.iloc[0][field])
    strict = validate_carts(frame([cart(**overrides)]), strict={field})
    assert [f for _, f, _ in rejects_of(strict)] == [field]


def test_a_good_product_is_normalised() -> None:
    result = validate_products(frame([product()]))
    assert rejects_of(result) == []
    row = result.valid.iloc[0]
    assert (row["currency"], row["price"], row["status"], row["stock"]) == (
        "GBP", 4.5, "enabled", 12.0)
    assert row["categories"] == ["Kitchen", "Gifts"]


def test_a_withdrawn_product_needs_only_its_key() -> None:
    bare = {"sku": "OLD", "store": "uk", "name": None, "price": None, "currency": None,
            "status": "deleted"}
    result = validate_products(frame([product(**bare)]))
    assert rejects_of(result) == []
    assert result.valid["status"].tolist() == ["deleted"]


@pytest.mark.parametrize(
    ("overrides", "field", "check", "words"),
    [
        ({"status": "archived"}, "status", "status", "enabled, disabled, deleted"),
        ({"price": "-0.01"}, "price", "not_negative", "must not be negative"),
        ({"price": None}, "price", "required", "enabled product"),
        ({"name": "  "}, "name", "required", "enabled product"),
        ({"currency": "XYZ1"}, "currency", "iso4217", "ISO 4217"),
        ({"store": None}, "store", None, None),
        # Minor units past 2**53 are no exact JSON number (the catalogue sends them).
        ({"price": "1e30"}, "price", "too_large", "larger than 9,000,000,000,000"),
    ],
)
def test_product_rejects_name_field_and_reason(overrides, field, check, words) -> None:
    result = validate_products(frame([product(**overrides)]))
    found = result.rejects.to_dict("records")
    assert [r["field"] for r in found] == [field]
    if check is not None:
        assert found[0]["check"] == check
    if words is not None:
        assert words in found[0]["reason"]


def test_the_same_sku_in_two_stores_is_two_products_but_not_twice_in_one() -> None:
    result = validate_products(frame([product(), product(store="de"),
                                      product(name="Again")]))
    assert sorted(k for k, _, _ in rejects_of(result)) == ["uk / MUG", "uk / MUG"]
    assert result.valid["store"].tolist() == ["de"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"categories": '["ok", 3]'}, "categories"), ({"categories": "{"}, "categories"),
     ({"image_url": "ftp://x/y.png"}, "image_url"), ({"sale_price": "-2"}, "sale_price"),
     ({"stock": "many"}, "stock"), ({"sale_price": "9000000000001"}, "sale_price"),
     ({"stock": "-1e20"}, "stock")],
)
def test_optional_product_fields_warn(overrides, field) -> None:
    result = validate_products(frame([product(**overrides)]))
    assert rejects_of(result) == []
    assert result.warnings["field"].tolist() == [field]
    assert result.warnings["key"].tolist() == ["uk / MUG"]


def test_a_store_the_checks_refuse_still_keys_its_problems_by_the_staged_store() -> None:
    """Every problem of a record names the "store / sku" of its staged row."""
    result = validate_products(frame([product(store="uk\x85", price="-1")]))
    assert {k for k, _, _ in rejects_of(result)} == {"uk\x85 / MUG"}
