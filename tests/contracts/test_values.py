"""Column coercion shared by the contracts, and hostile input through every column."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dotsync.data_contracts import validate_certificates, validate_customers, validate_orders
from dotsync.data_contracts._display import clip, show
from dotsync.data_contracts._values import _BAD, _parse_decimal_text, control_mask, decimals, text
from dotsync.data_contracts.optional import all_optional
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contracts.conftest import NOW, certificate, customer, frame, order


def _obj(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


_decimal_like = st.one_of(
    st.from_regex(r"\A[ +\-]?[0-9]{0,6}(\.[0-9]{0,4})?([eE][+\-]?[0-9]{1,3})?\s?\Z"),
    st.text("0123456789.eE+-_ ,naifINF\u0660", max_size=12),
)


@settings(max_examples=400)
@given(st.lists(_decimal_like, min_size=1, max_size=20))
def test_vectorised_decimals_agree_with_the_python_rule(texts: list[str]) -> None:
    values, bad = decimals(_obj(texts))
    for text_value, value, wrong in zip(texts, values, bad, strict=True):
        expected = _parse_decimal_text(text_value)
        if expected is _BAD:
            assert wrong, text_value
        elif expected is None:
            assert not wrong and math.isnan(value), text_value
        else:
            assert not wrong and value == expected, text_value


def test_text_rule_whitespace_only_is_null_and_numbers_become_digits() -> None:
    values, bad = text(_obj(["  a ", "   ", "", "\u3000", None, 42, 4.0, 4.5, True, {"a": 1}]))
    assert values.tolist() == ["a", None, None, None, None, "42", "4", "4.5", None, None]
    assert bad.tolist() == [False] * 8 + [True, True]


def test_control_mask_flags_controls_and_lone_surrogates_only() -> None:
    values = _obj(["tab\tand\nnewline\r", "bell\x07", "nul\x00", "del\x7f", "c1\x85",
                   "surrogate\ud800", "emoji 😀", "nbsp\u00a0", None])
    assert control_mask(values).tolist() == [False, True, True, True, True, True, False,
                                             False, False]


def test_clip_and_show_keep_reports_short_and_printable() -> None:
    assert clip("x" * 200) == "x" * 79 + "…"
    assert clip(None) is None and clip(float("nan")) is None
    assert clip("\x1b[31mred") == "\\x1b[31mred"
    assert clip("\ud800") == "\\ud800"
    assert show("it's") == '"it\'s"'
    assert show({"a": 1}) == "{'a': 1}"


# -- hostile input through whole contracts -------------------------------------------------

def _check(result, n: int) -> None:
    assert len(result.valid) + result.rejects["row"].nunique() == n
    assert result.rejects["reason"].map(lambda r: isinstance(r, str) and r != "").all()
    for value in result.rejects["value"].dropna():
        assert not any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 0x20 for c in value)
        assert len(value) <= 80 + 3 * 80


def test_naughty_strings_in_every_customer_column(naughty_strings: list[str]) -> None:
    rows = []
    for i, s in enumerate(naughty_strings):
        for column in customer():
            rows.append(customer(customer_id=f"c{i}-{column}", **{column: s})
                        if column != "customer_id" else customer(customer_id=s or f"e{i}"))
    result = validate_customers(frame(rows), "GB")
    _check(result, len(rows))


def test_naughty_strings_in_every_order_column(naughty_strings: list[str]) -> None:
    rows = []
    for i, s in enumerate(naughty_strings):
        for column in order():
            rows.append(order(order_id=f"o{i}-{column}", **{column: s})
                        if column != "order_id" else order(order_id=s or f"e{i}"))
    _check(validate_orders(frame(rows), now=NOW), len(rows))


def test_naughty_strings_in_every_certificate_column(naughty_strings: list[str]) -> None:
    rows = []
    for i, s in enumerate(naughty_strings):
        for column in certificate():
            rows.append(certificate(certificate_id=f"g{i}-{column}", **{column: s})
                        if column != "certificate_id" else certificate(certificate_id=s or "e"))
    _check(validate_certificates(frame(rows), 1), len(rows))


def test_huge_values_are_rejected_or_kept_without_trouble() -> None:
    huge = "9" * 100_000
    rows = [customer(customer_id="a", first_name=huge), customer(customer_id="b", email=huge),
            customer(customer_id="c", mobile_number=huge), customer(customer_id="d",
                                                                    data_fields=huge)]
    strict = validate_customers(frame(rows), "GB", all_optional())
    assert strict.valid.empty
    assert set(strict.rejects["check"]) == {"max_length", "email_syntax", "e164", "json_syntax"}
    # By default only the e-mail (the identifier) rejects; the rest are left out.
    result = validate_customers(frame(rows), "GB")
    assert result.valid["customer_id"].tolist() == ["a", "c", "d"]
    assert set(result.rejects["check"]) == {"email_syntax"}
    assert set(result.warnings["check"]) == {"max_length", "e164", "json_syntax"}
    assert all(len(v) <= 80 for v in result.warnings["value"])
    orders = validate_orders(frame([order(total=huge), order(order_id="o2", lines="[" * 10_000)]),
                             now=NOW)
    assert set(orders.rejects["check"]) == {"decimal", "json_syntax"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats(),
                          st.booleans()), min_size=14, max_size=14))
def test_any_values_in_any_customer_column_never_raise(values: list) -> None:
    row = dict(zip(customer().keys(), values, strict=True))
    df = pd.DataFrame([row], dtype=object)
    result = validate_customers(df, "GB")
    assert len(result.valid) + result.rejects["row"].nunique() == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats(),
                          st.booleans()), min_size=16, max_size=16))
def test_any_values_in_any_order_column_never_raise(values: list) -> None:
    row = dict(zip(order().keys(), values, strict=True))
    result = validate_orders(pd.DataFrame([row], dtype=object), now=NOW)
    assert len(result.valid) + result.rejects["row"].nunique() == 1
