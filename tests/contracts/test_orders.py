"""The orders contract (SPEC §1): one passing and one failing example per rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from dotsync.data_contracts import ORDER_COLUMNS, ContractError, validate_orders
from dotsync.data_contracts.optional import all_optional

from tests.contracts.conftest import NOW, frame, order, rejects_of

#: Every optional field made strict: their problems reject, as every problem did before
#: SPEC §1 made optional fields' problems warnings (tests/contracts/test_warnings.py).
STRICT = all_optional()



def _lines(*items: dict) -> str:
    return json.dumps(list(items))


LINE = {"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10}


def _one(**overrides: object) -> tuple[dict, list]:
    result = validate_orders(frame([order(**overrides)]), now=NOW)
    valid = result.valid.to_dict("records")
    return (valid[0] if valid else {}), rejects_of(result)


@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [
        ({"customer_email": " Jo@Example.com"}, "customer_email", "jo@example.com"),
        ({"customer_id": None}, "customer_id", None),  # guest checkout
        ({"customer_id": " c1"}, "customer_id", " c1"),  # a key reference, kept exactly
        ({"status": " Shipped "}, "status", "Shipped"),
        ({"currency": "gbp"}, "currency", "GBP"),
        ({"currency": "XCG"}, "currency", "XCG"),  # current (2025) Caribbean guilder
        ({"total": "0"}, "total", 0.0),
        ({"total": "1e3"}, "total", 1000.0),
        ({"total": " 12.50 "}, "total", 12.5),
        ({"total": 12}, "total", 12.0),  # typed
        ({"total": "-0"}, "total", 0.0),
        ({"subtotal": None}, "subtotal", None),
        ({"tax": "0.00"}, "tax", 0.0),
        ({"discount": "5"}, "discount", 5.0),
        ({"refunded": "25.00"}, "refunded", 25.0),  # equal to total
        ({"placed_at": "2026-06-01T12:00:00Z"}, "placed_at", NOW),  # exactly now
        ({"placed_at": "2026-05-01T12:00:00+02:00"}, "placed_at",
         pd.Timestamp("2026-05-01T10:00:00Z")),
        ({"updated_at": "2026-05-01"}, "updated_at", pd.Timestamp("2026-05-01T00:00:00Z")),
        ({"lines": _lines(LINE)}, "lines",
         [{"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10.0, "categories": []}]),
        ({"lines": _lines({**LINE, "categories": ["Men"], "colour": "red"})}, "lines",
         [{"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10.0,
           "categories": ["Men"]}]),
        ({"lines": _lines({"sku": 123, "name": " Shirt ", "quantity": "1.5",
                           "unit_price": "0"})}, "lines",
         [{"sku": "123", "name": "Shirt", "quantity": 1.5, "unit_price": 0.0,
           "categories": []}]),
        ({"lines": _lines({**LINE, "quantity": 2.0, "categories": None})}, "lines",
         [{"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10.0, "categories": []}]),
        ({"lines": [dict(LINE)]}, "lines",  # typed list from a Parquet load
         [{"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10.0, "categories": []}]),
        ({"store": "  "}, "store", None),
        ({"coupon_code": "SPRING10"}, "coupon_code", "SPRING10"),
    ],
)
def test_passing_values_are_normalised(overrides: dict, column: str, expected: object) -> None:
    row, rejects = _one(**overrides)
    assert rejects == []
    value = row[column]
    if expected is None and isinstance(value, float):
        assert np.isnan(value)
    else:
        assert value == expected


@pytest.mark.parametrize(
    ("overrides", "field", "check", "in_reason"),
    [
        ({"order_id": None}, "order_id", "required", "order_id is required"),
        ({"customer_email": None, "customer_id": None}, "customer_email", "required",
         "customer_email is required"),
        ({"customer_email": "jo@"}, "customer_email", "email_syntax",
         "customer_email 'jo@' is not a valid e-mail address"),
        ({"status": ""}, "status", "required", "status is required"),
        ({"status": "paid\x00"}, "status", "control_chars", "'paid\\x00'"),
        ({"currency": None}, "currency", "required", "currency is required"),
        ({"currency": "XXY"}, "currency", "iso4217", "currency 'XXY' is not an ISO 4217 code"),
        ({"currency": "HRK"}, "currency", "iso4217", "'HRK'"),  # withdrawn in 2023
        ({"currency": "€"}, "currency", "iso4217", "'€'"),
        ({"total": None}, "total", "required", "total is required"),
        ({"total": "-0.01"}, "total", "not_negative", "total '-0.01' must not be negative"),
        ({"total": "12,50"}, "total", "decimal", "total '12,50' is not a decimal number"),
        ({"total": "NaN"}, "total", "decimal", "'NaN'"),
        ({"total": "Infinity"}, "total", "decimal", "'Infinity'"),
        ({"total": "1e400"}, "total", "decimal", "'1e400'"),
        ({"total": True}, "total", "decimal", "True"),
        ({"subtotal": "-1"}, "subtotal", "not_negative", "'-1'"),
        ({"tax": "£4"}, "tax", "decimal", "'£4'"),
        ({"shipping": "-5"}, "shipping", "not_negative", "'-5'"),
        ({"discount": "-5"}, "discount", "not_negative", "'-5'"),
        ({"refunded": "-1"}, "refunded", "not_negative", "'-1'"),
        ({"refunded": "25.01"}, "refunded", "refunded_le_total",
         "refunded '25.01' is more than total '25.00'"),
        ({"placed_at": None}, "placed_at", "required", "placed_at is required"),
        ({"placed_at": "2026-06-01T12:00:01Z"}, "placed_at", "not_in_future",
         "placed_at '2026-06-01T12:00:01Z' is in the future"),
        ({"placed_at": "01/05/2026"}, "placed_at", "iso8601", "'01/05/2026'"),
        ({"updated_at": None}, "updated_at", "required", "updated_at is required"),
        ({"updated_at": "today"}, "updated_at", "iso8601", "'today'"),
        ({"lines": None}, "lines", "required", "lines is required"),
        ({"lines": "[{"}, "lines", "json_syntax", "lines is not valid JSON"),
        ({"lines": '[{"sku":"A","name":"B","quantity":1,"unit_price":NaN}]'}, "lines",
         "json_syntax", "not valid JSON"),
        ({"lines": "[]"}, "lines", "json_shape", "empty array"),
        ({"lines": json.dumps(LINE)}, "lines", "json_shape", "must be a JSON array"),
        ({"lines": "[5]"}, "lines", "json_shape", "lines[0] must be an object"),
        ({"lines": _lines({**LINE, "name": "  "})}, "lines", "required", "lines[0].name"),
        ({"lines": _lines({**LINE, "name": 7})}, "lines", "json_shape", "must be text"),
        ({"lines": _lines(LINE, {**LINE, "quantity": 0})}, "lines", "positive",
         "lines[1].quantity must be greater than 0, got 0"),
        ({"lines": _lines({**LINE, "quantity": "two"})}, "lines", "json_shape",
         "lines[0].quantity must be a number, got text 'two'"),
        ({"lines": _lines({**LINE, "quantity": True})}, "lines", "json_shape", "true/false"),
        ({"lines": _lines({**LINE, "unit_price": -1})}, "lines", "not_negative",
         "lines[0].unit_price must not be negative"),
        ({"lines": _lines({k: v for k, v in LINE.items() if k != "unit_price"})}, "lines",
         "required", "lines[0].unit_price is required"),
        ({"lines": _lines({**LINE, "categories": "Men"})}, "lines", "json_shape",
         "categories must be a list of text"),
        ({"lines": _lines({**LINE, "categories": ["Men", 3]})}, "lines", "json_shape",
         "categories[1] must be text"),
        ({"lines": _lines({**LINE, "categories": [["Men"]]})}, "lines", "json_shape",
         "categories[0] must be text"),
        ({"lines": _lines({**LINE, "sku": "A\u0007"})}, "lines", "control_chars",
         "lines[0].sku"),
        ({"lines": 42}, "lines", "json_shape", "must be a JSON array"),
        ({"order_id": {"id": 7}}, "order_id", "type", "must be text, got dict"),
    ],
)
def test_failing_values_are_rejected(
    overrides: dict, field: str, check: str, in_reason: str
) -> None:
    result = validate_orders(frame([order(**overrides)]), now=NOW, strict=STRICT)
    assert result.valid.empty
    rejects = result.rejects
    match = rejects[(rejects["field"] == field) & (rejects["check"] == check)]
    assert len(match) == 1, rejects.to_dict("records")
    if "order_id" not in overrides:
        assert match["key"].iloc[0] == "o1"
    assert in_reason in match["reason"].iloc[0]


def test_every_problem_of_every_line_is_reported() -> None:
    lines = _lines({"sku": "", "name": "n", "quantity": 0, "unit_price": -1}, 5,
                   {**LINE, "categories": "x"})
    result = validate_orders(frame([order(lines=lines)]), now=NOW)
    assert [r for r in result.rejects["reason"]] == [
        "lines[0].quantity must be greater than 0, got 0",
        "lines[0].unit_price must not be negative, got -1",
        "lines[1] must be an object, got the number 5",
    ]
    # The blank sku is no problem (SPEC §1: tips, gift wrap have none); the bad categories
    # are a warning, dropped with the rejected order.
    assert result.warnings.empty


def test_a_flood_of_bad_lines_is_capped() -> None:
    lines = _lines(*[{**LINE, "quantity": -1}] * 500)
    result = validate_orders(frame([order(lines=lines)]), now=NOW)
    assert len(result.rejects) == 21
    assert result.rejects["reason"].iloc[-1] == "lines has 480 more problems"


def test_now_defaults_to_the_current_time_and_naive_now_is_utc() -> None:
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).isoformat()
    assert rejects_of(validate_orders(frame([order(placed_at=future)])))[0][2] == "not_in_future"
    naive = validate_orders(frame([order(placed_at="2026-06-01T12:00:00Z")]),
                            now=pd.Timestamp("2026-06-01T12:00:00"))
    assert naive.rejects.empty


def test_mixed_frame_keeps_good_rows_unchanged_and_reports_each_bad_row() -> None:
    good = [order(order_id=f"g{i}", total=f"{20 + i}.00") for i in range(4)]
    bad = [order(order_id="b1", lines="[]"), order(order_id="b2", currency="ABC"),
           order(order_id="b3", refunded="99")]
    rows = [bad[0], good[0], good[1], bad[1], good[2], bad[2], good[3]]
    mixed = validate_orders(frame(rows, index=list("abcdefg")), now=NOW, strict=STRICT)
    alone = validate_orders(frame(good, index=list("bceg")), now=NOW, strict=STRICT)
    pd.testing.assert_frame_equal(mixed.valid, alone.valid)
    assert mixed.rejects[["key", "row"]].values.tolist() == [["b1", "a"], ["b2", "d"],
                                                             ["b3", "f"]]


def test_valid_columns_and_types() -> None:
    result = validate_orders(frame([order()]), now=NOW)
    valid = result.valid
    assert list(valid.columns) == list(ORDER_COLUMNS)
    for name in ("total", "subtotal", "tax", "shipping", "discount", "refunded"):
        assert valid[name].dtype == np.float64
    for name in ("placed_at", "updated_at"):
        assert str(valid[name].dtype) == "datetime64[us, UTC]"
    assert valid["lines"].dtype == object


def test_missing_required_column_is_an_error() -> None:
    with pytest.raises(ContractError, match="lines"):
        validate_orders(frame([order()]).drop(columns=["lines"]), now=NOW)


def test_lines_the_caller_passed_are_not_mutated() -> None:
    typed = [{"sku": "A", "name": "B", "quantity": 1, "unit_price": 2}]
    result = validate_orders(frame([order(lines=typed)]), now=NOW)
    assert result.valid["lines"].iloc[0][0]["unit_price"] == 2.0
    assert typed == [{"sku": "A", "name": "B", "quantity": 1, "unit_price": 2}]
