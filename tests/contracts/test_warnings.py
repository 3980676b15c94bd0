"""Optional fields never hold a record (SPEC §1): their problems are warnings.

A problem in an optional field leaves that field out of ``valid`` (None/NaN/NaT, or the
entry out of a dict or a line) and adds a warning naming the field, the value (masked
when personal) and the reason; the record stays valid. ``strict`` names fields whose
problems reject instead.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from dotsync.data_contracts import validate_certificates, validate_customers, validate_orders
from dotsync.data_contracts.optional import OPTIONAL_FIELDS, all_optional, parse_strict
from dotsync.data_contracts.result import WARNING_COLUMNS
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contracts.conftest import NOW, certificate, customer, frame, order

LINE = {"sku": "A-1", "name": "Shirt", "quantity": 2, "unit_price": 10}


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize(
    ("overrides", "field", "check", "in_reason"),
    [
        ({"first_name": "J" * 51}, "first_name", "max_length", "51 characters long"),
        ({"last_name": "x" * 60}, "last_name", "max_length", "at most 50"),
        ({"first_name": "Jo\x07"}, "first_name", "control_chars", "holds control characters"),
        ({"first_name": ["Jo"]}, "first_name", "type", "must be text, got list"),
        ({"mobile_number": "0161 496 000"}, "mobile_number", "e164", "is not a valid number"),
        ({"mobile_number": "12345", "country": "US"}, "mobile_number", "e164", "mobile_number"),
        ({"country": "UK"}, "country", "iso3166", "country 'UK' is not an ISO 3166-1 alpha-2"),
        ({"email_type": "xml"}, "email_type", "enum", "email_type 'xml' must be one of"),
        ({"opt_in_type": "triple"}, "opt_in_type", "enum", "'triple'"),
        ({"store": "uk\x1b[31m"}, "store", "control_chars", "\\x1b"),
        ({"locale": "en\x00GB"}, "locale", "control_chars", "\\x00"),
    ],
)
def test_a_bad_optional_customer_field_is_left_out_with_a_warning(
    overrides: dict, field: str, check: str, in_reason: str
) -> None:
    result = validate_customers(frame([customer(**overrides)]), "GB")
    assert result.rejects.empty, result.rejects.to_dict("records")
    [row] = result.valid.to_dict("records")
    assert _missing(row[field])
    assert row["email"] == "jo@example.com" and row["customer_id"] == "c1"
    assert list(result.warnings.columns) == list(WARNING_COLUMNS)
    [warning] = result.warnings.to_dict("records")
    assert (warning["key"], warning["field"], warning["check"]) == ("c1", field, check)
    assert in_reason in warning["reason"]
    assert result.warned_keys == ["c1"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"first_name": "J" * 51}, "first_name"), ({"mobile_number": "0161 496 000"},
                                                 "mobile_number"),
     ({"country": "UK"}, "country"), ({"data_fields": '{"A":"x\\u0000y"}'}, "data_fields")],
)
def test_a_strict_field_rejects_instead(overrides: dict, field: str) -> None:
    result = validate_customers(frame([customer(**overrides)]), "GB", strict=[field])
    assert result.valid.empty
    assert result.rejects["field"].tolist() == [field]
    assert result.warnings.empty


def test_personal_values_are_masked_in_value_and_reason() -> None:
    result = validate_customers(frame([
        customer(customer_id="a", mobile_number=" 0161 496 000 "),
        customer(customer_id="b", first_name="Jonathan" * 7),
        customer(customer_id="c", data_fields='{"NOTE": "secret\\u0001text"}'),
    ]), "GB")
    by_key = result.warnings.set_index("key")
    assert by_key.loc["a", "value"] == "***000"
    assert "0161" not in by_key.loc["a", "reason"] and "***000" in by_key.loc["a", "reason"]
    assert by_key.loc["b", "value"] == "J***"
    assert "Jonathan" not in by_key.loc["b", "reason"]
    assert "secret" not in str(by_key.loc["c", "value"]) + by_key.loc["c", "reason"]
    assert "'NOTE'" in by_key.loc["c", "reason"]


def test_a_bad_data_field_entry_is_dropped_and_the_others_kept() -> None:
    fields = json.dumps({"TIER": "gold", "NOTE": "a\u0007b", "bad name": 1, "POINTS": 5})
    result = validate_customers(frame([customer(data_fields=fields)]), "GB")
    assert result.valid["data_fields"].iloc[0] == {"TIER": "gold", "POINTS": 5}
    assert sorted(result.warnings["check"]) == ["control_chars", "data_field_name"]
    assert set(result.warnings["field"]) == {"data_fields"}


def test_data_fields_that_are_not_an_object_are_all_left_out() -> None:
    result = validate_customers(frame([customer(data_fields="[1, 2]")]), "GB")
    assert result.valid["data_fields"].iloc[0] is None
    assert result.warnings["check"].tolist() == ["json_shape"]


def test_a_bad_email_type_is_left_out_not_replaced_by_the_default() -> None:
    valid = validate_customers(frame([customer(email_type="xml", opt_in_type=None)]), "GB").valid
    assert valid["email_type"].iloc[0] is None
    assert valid["opt_in_type"].iloc[0] == "unknown"  # nothing given: the default


def test_the_mobile_number_of_a_contact_without_email_is_its_identifier() -> None:
    result = validate_customers(frame([customer(email=None, mobile_number="0161 496 000")]),
                                "GB")
    assert result.valid.empty
    assert result.rejects["field"].tolist() == ["mobile_number"]
    assert result.warnings.empty


def test_required_fields_still_reject_and_a_rejected_row_carries_no_warnings() -> None:
    result = validate_customers(frame([customer(email="nope", first_name="J" * 51)]), "GB")
    assert result.valid.empty
    assert result.rejects["field"].tolist() == ["email"]
    assert result.warnings.empty


# -- orders ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "check"),
    [
        ({"subtotal": "-1"}, "subtotal", "not_negative"),
        ({"tax": "£4"}, "tax", "decimal"),
        ({"shipping": "-5"}, "shipping", "not_negative"),
        ({"discount": "five"}, "discount", "decimal"),
        ({"refunded": "25.01"}, "refunded", "refunded_le_total"),
        ({"store": "uk\x1b"}, "store", "control_chars"),
        ({"coupon_code": "A\x00"}, "coupon_code", "control_chars"),
    ],
)
def test_a_bad_optional_order_field_is_left_out_with_a_warning(
    overrides: dict, field: str, check: str
) -> None:
    result = validate_orders(frame([order(**overrides)]), now=NOW)
    assert result.rejects.empty
    assert _missing(result.valid[field].iloc[0])
    assert result.warnings[["key", "field", "check"]].values.tolist() == [["o1", field, check]]


def test_lines_need_no_sku() -> None:
    lines = json.dumps([{"name": "Tip", "quantity": 1, "unit_price": 2},
                        {"sku": None, "name": "Gift wrap", "quantity": 1, "unit_price": 3},
                        {"sku": " ", "name": "Custom", "quantity": 1, "unit_price": 0}, LINE])
    result = validate_orders(frame([order(lines=lines)]), now=NOW)
    assert result.rejects.empty and result.warnings.empty
    assert [line["sku"] for line in result.valid["lines"].iloc[0]] == [None, None, None, "A-1"]


@pytest.mark.parametrize(
    ("line", "field", "kept"),
    [
        ({**LINE, "sku": "A\u0007"}, "lines.sku", {"sku": None, "categories": []}),
        ({**LINE, "sku": {"id": 1}}, "lines.sku", {"sku": None}),
        ({**LINE, "categories": "Men"}, "lines.categories", {"sku": "A-1", "categories": []}),
        ({**LINE, "categories": ["Men", 3]}, "lines.categories", {"categories": []}),
    ],
)
def test_a_bad_sku_or_categories_leaves_them_out_of_the_line(
    line: dict, field: str, kept: dict
) -> None:
    result = validate_orders(frame([order(lines=json.dumps([line]))]), now=NOW)
    assert result.rejects.empty
    [sent] = result.valid["lines"].iloc[0]
    assert {k: sent[k] for k in kept} == kept
    assert result.warnings["field"].tolist() == [field]
    assert "lines[0]" in result.warnings["reason"].iloc[0]
    strict = validate_orders(frame([order(lines=json.dumps([line]))]), now=NOW,
                             strict=[field])
    assert strict.valid.empty and strict.rejects["field"].tolist() == ["lines"]


def test_an_order_without_email_takes_its_customers() -> None:
    rows = [order(order_id="o1", customer_email=None, customer_id="c1"),
            order(order_id="o2", customer_email="  ", customer_id="c2"),
            order(order_id="o3", customer_email=None, customer_id="nobody"),
            order(order_id="o4", customer_email=None, customer_id="c4"),
            order(order_id="o5", customer_email="Given@Example.com", customer_id="c1")]
    emails = {"c1": " Jo@Example.com ", "c2": "ann@example.com", "c4": None}
    result = validate_orders(frame(rows), now=NOW, customer_emails=emails)
    assert result.valid.set_index("order_id")["customer_email"].to_dict() == {
        "o1": "jo@example.com", "o2": "ann@example.com", "o5": "given@example.com"}
    rejects = result.rejects.set_index("key")
    assert rejects.loc["o3", "field"] == "customer_email"
    assert "customer_id 'nobody' names no staged customer" in rejects.loc["o3", "reason"]
    assert rejects.loc["o4", "field"] == "customer_email"
    assert "customer 'c4' has no e-mail" in rejects.loc["o4", "reason"]


def test_an_order_file_without_a_customer_email_column_is_accepted() -> None:
    df = frame([order(customer_email=None)]).drop(columns=["customer_email"])
    result = validate_orders(df, now=NOW, customer_emails={"c1": "jo@example.com"})
    assert result.valid["customer_email"].tolist() == ["jo@example.com"]


# -- certificates ---------------------------------------------------------------------


def test_an_unreadable_expiry_is_left_out() -> None:
    result = validate_certificates(frame([certificate(expires_at="next year")]), 7)
    assert result.valid["expires_at"].iloc[0] is pd.NaT
    assert result.warnings["field"].tolist() == ["expires_at"]


@pytest.mark.parametrize("campaign", ["12a", "0", "-3", 4.5])
def test_a_bad_campaign_id_falls_back_to_the_default(campaign: object) -> None:
    result = validate_certificates(frame([certificate(campaign_id=campaign)]), 7)
    assert result.valid["campaign_id"].tolist() == [7]
    assert result.warnings["field"].tolist() == ["campaign_id"]
    none = validate_certificates(frame([certificate(campaign_id=campaign)]), None)
    assert none.valid.empty and none.rejects["check"].tolist()[-1] == "required"


# -- configuration --------------------------------------------------------------------


def test_strict_fields_are_parsed_and_unknown_names_refused() -> None:
    assert parse_strict(" mobile_number, lines.sku ,") == {"mobile_number", "lines.sku"}
    assert parse_strict(None) == frozenset()
    with pytest.raises(ValueError, match="'email'"):
        parse_strict("email,first_name")
    assert all_optional() >= OPTIONAL_FIELDS["certificates"]


# -- whatever is in the optional fields, the record goes on ---------------------------

_JUNK = st.one_of(st.none(), st.text(max_size=60), st.integers(), st.floats(), st.booleans(),
                  st.lists(st.text(max_size=5), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({f: _JUNK for f in (
    "first_name", "last_name", "country", "store", "locale", "email_type", "opt_in_type",
    "data_fields")}))
def test_junk_in_optional_customer_fields_never_rejects(junk: dict) -> None:
    result = validate_customers(frame([customer(**junk)]), "GB")
    assert result.rejects.empty, result.rejects.to_dict("records")
    [row] = result.valid.to_dict("records")
    assert row["email"] == "jo@example.com"
    assert row["mobile_number"] == "+447911123456"
    assert set(result.warnings["field"]) <= OPTIONAL_FIELDS["customers"]


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({f: _JUNK for f in (
    "subtotal", "tax", "shipping", "discount", "refunded", "store", "coupon_code")}))
def test_junk_in_optional_order_fields_never_rejects(junk: dict) -> None:
    result = validate_orders(frame([order(**junk)]), now=NOW)
    assert result.rejects.empty, result.rejects.to_dict("records")
    row = result.valid.iloc[0]
    assert row["total"] == 25.0 and row["customer_email"] == "jo@example.com"
    for name in ("subtotal", "tax", "shipping", "discount", "refunded"):
        assert _missing(row[name]) or row[name] >= 0


def test_strict_fields_come_from_the_environment_or_dotsync_toml(tmp_path) -> None:
    from dotsync.config import ConfigError, Settings

    toml = tmp_path / "dotsync.toml"
    toml.write_text('dotsync_strict_fields = ["mobile_number", "lines.sku"]\n')
    assert Settings.from_env({}, toml).strict_fields == {"mobile_number", "lines.sku"}
    env = {"DOTSYNC_STRICT_FIELDS": "data_fields"}
    assert Settings.from_env(env, toml).strict_fields == {"data_fields"}
    assert Settings.from_env({}, tmp_path / "none.toml").strict_fields == frozenset()
    with pytest.raises(ConfigError, match=r"DOTSYNC_STRICT_FIELDS.*'mobile'"):
        Settings.from_env({"DOTSYNC_STRICT_FIELDS": "mobile"}, toml)
