"""The catalogue plan (pure functions): collection names per Dotdigital's rules,
record shape with exact prices, what is upserted and what is removed."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync import catalog_plan as plan

#: The insight spec's collectionName schema (pattern and maxLength 255).
SPEC_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]{1,255}$")


@pytest.mark.parametrize(
    ("store", "name"),
    [("uk", "catalog_uk"), ("My Store", "catalog_My_Store"), ("shop.example.com",
     "catalog_shop_example_com"), ("de-1", "catalog_de-1"), ("Café", "catalog_Caf_")],
)
def test_collection_name_is_sanitised(store: str, name: str) -> None:
    assert plan.collection_name(store) == name


@pytest.mark.parametrize("store", ["", "  ", "___", "日本", "x" * 300])
def test_a_store_that_cannot_name_a_collection_is_refused(store: str) -> None:
    with pytest.raises(plan.CollectionNameError, match="DOTSYNC_CATALOG_COLLECTION"):
        plan.collection_name(store)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_every_name_made_is_valid_per_the_spec(store: str) -> None:
    try:
        name = plan.collection_name(store)
    except plan.CollectionNameError:
        return
    assert SPEC_NAME.match(name) and len(name) <= 255
    assert plan.is_valid_collection_name(name)


def test_an_override_is_checked_not_rewritten() -> None:
    assert plan.collection_name("uk", "Products-All") == "Products-All"
    with pytest.raises(plan.CollectionNameError, match="DOTSYNC_CATALOG_COLLECTION"):
        plan.collection_name("uk", "1catalog")
    with pytest.raises(plan.CollectionNameError):
        plan.collection_name("uk", "has space")


def test_two_stores_may_not_share_a_collection() -> None:
    assert plan.collection_names(["uk", "de", "uk"]) == {"de": "catalog_de",
                                                         "uk": "catalog_uk"}
    with pytest.raises(plan.CollectionNameError, match=r"'a b' and 'a\.b'"):
        plan.collection_names(["a b", "a.b"])
    with pytest.raises(plan.CollectionNameError, match="several stores"):
        plan.collection_names(["uk", "de"], override="catalog")
    assert plan.collection_names(["uk"], override="catalog") == {"uk": "catalog"}


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [("10.50", "GBP", 1050), ("0.1", "GBP", 10), (0.29, "EUR", 29), ("1500", "JPY", 1500),
     ("1.2345", "BHD", 1235), ("19.999", "USD", 2000), ("2.675", "GBP", 268)],
)
def test_minor_amounts_are_exact(value, currency, minor) -> None:
    assert plan.minor_amount(value, currency) == minor


@settings(max_examples=300)
@given(st.integers(0, 10**12), st.sampled_from(["GBP", "JPY", "BHD", "EUR"]))
def test_minor_units_round_trip(minor: int, currency: str) -> None:
    major = plan.major_amount(minor, currency)
    assert plan.minor_amount(repr(major), currency) == minor
    assert plan.minor_amount(Decimal(repr(major)), currency) == minor


def _row(**overrides: object) -> dict:
    base = {"sku": "MUG", "store": "uk", "name": "Mug", "price": 4.1, "sale_price": None,
            "currency": "GBP", "url": "https://shop.example/mug", "image_url": None,
            "categories": ["Kitchen", "Gifts"], "stock": 12.0, "status": "enabled"}
    return base | overrides


def test_product_record_shape() -> None:
    assert plan.product_record(_row(sale_price=3.3)) == {
        "sku": "MUG", "name": "Mug", "currency": "GBP", "price": 4.1, "price_minor": 410,
        "sale_price": 3.3, "sale_price_minor": 330, "url": "https://shop.example/mug",
        "categories": "Kitchen, Gifts", "stock": 12.0, "store": "uk"}


def test_plan_upserts_enabled_and_removes_disabled_or_deleted() -> None:
    rows = [_row(), _row(sku="OLD", status="deleted"), _row(sku="OFF", status="disabled"),
            _row(sku="DE1", store="de")]
    names = plan.collection_names(["uk", "de"])
    result = plan.plan_catalog(rows, names)
    assert [r["key"] for r in result.upserts["catalog_uk"]] == ["MUG"]
    assert [r["key"] for r in result.upserts["catalog_de"]] == ["DE1"]
    assert result.removals == {"catalog_uk": ["OLD", "OFF"]}
    # With the ledger's view, a product never sent is not deleted.
    known = plan.plan_catalog(rows, names, in_catalog={"catalog_uk": {"OFF"}})
    assert known.removals == {"catalog_uk": ["OFF"]}


@settings(max_examples=50)
@given(st.lists(st.text(min_size=1, max_size=5), max_size=12000))
def test_delete_batches_hold_at_most_5000_distinct_keys(keys: list[str]) -> None:
    batches = list(plan.delete_batches(keys))
    assert all(1 <= len(b) <= 5000 for b in batches)
    assert [k for b in batches for k in b] == list(dict.fromkeys(keys))
