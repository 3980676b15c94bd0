"""The customers contract (SPEC §1): one passing and one failing example per rule, the
whitespace and typed-value rules, mixed frames, and merging by e-mail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dotsync.data_contracts import (
    CUSTOMER_COLUMNS,
    REJECT_COLUMNS,
    ContractError,
    merge_customers,
    validate_customers,
)
from dotsync.data_contracts.optional import all_optional

from tests.contracts.conftest import customer, frame, rejects_of

#: Every optional field made strict: their problems reject, as every problem did before
#: SPEC §1 made optional fields' problems warnings (tests/contracts/test_warnings.py).
STRICT = all_optional()



def _one(default_region: str | None = "GB", **overrides: object) -> tuple[dict, list]:
    result = validate_customers(frame([customer(**overrides)]), default_region)
    valid = result.valid.to_dict("records")
    return (valid[0] if valid else {}), rejects_of(result)


# -- passing examples: the value as normalised ---------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [
        ({"email": "  Jo@Example.COM "}, "email", "jo@example.com"),
        ({"email": None}, "email", None),  # mobile number given instead
        ({"first_name": "J" * 50}, "first_name", "J" * 50),
        ({"first_name": "  Jo  "}, "first_name", "Jo"),
        ({"first_name": "   "}, "first_name", None),  # whitespace-only is null
        ({"last_name": "=HYPERLINK(\"http://x\")"}, "last_name", "=HYPERLINK(\"http://x\")"),
        ({"mobile_number": "07911 123456", "country": "gb"}, "mobile_number", "+447911123456"),
        ({"mobile_number": "07911 123456", "country": None}, "mobile_number", "+447911123456"),
        ({"mobile_number": "06 12 34 56 78", "country": "FR"}, "mobile_number", "+33612345678"),
        ({"mobile_number": None}, "mobile_number", None),
        ({"country": " fr "}, "country", "FR"),
        ({"email_type": None}, "email_type", "html"),
        ({"email_type": "PlainText"}, "email_type", "plaintext"),
        ({"opt_in_type": None}, "opt_in_type", "unknown"),
        ({"opt_in_type": "Verified_Double"}, "opt_in_type", "verified_double"),
        ({"email_consent": "Subscribed"}, "email_consent", "subscribed"),
        ({"email_consent": None}, "email_consent", None),
        ({"sms_consent": "unsubscribed"}, "sms_consent", "unsubscribed"),
        ({"email_consent": " Pending "}, "email_consent", "pending"),  # SPEC §1: double opt-in
        ({"sms_consent": "PENDING"}, "sms_consent", "pending"),
        ({"store": " eu "}, "store", "eu"),
        ({"locale": ""}, "locale", None),
        ({"data_fields": '{"TIER":"gold","POINTS":3,"VIP":true,"NOTE":null}'}, "data_fields",
         {"TIER": "gold", "POINTS": 3, "VIP": True, "NOTE": None}),
        ({"data_fields": '{"ABCDEFGHIJ-_0123456":1}'}, "data_fields", {"ABCDEFGHIJ-_0123456": 1}),
        ({"data_fields": {"TIER": "gold"}}, "data_fields", {"TIER": "gold"}),  # typed
        ({"data_fields": "  "}, "data_fields", None),
        ({"updated_at": "2026-01-02T04:04:05+01:00"}, "updated_at",
         pd.Timestamp("2026-01-02T03:04:05Z")),
        ({"updated_at": "2026-01-02 03:04:05"}, "updated_at", pd.Timestamp("2026-01-02T03:04:05Z")),
        ({"updated_at": pd.Timestamp("2026-01-02T03:04:05")}, "updated_at",
         pd.Timestamp("2026-01-02T03:04:05Z")),
        ({"customer_id": 42}, "customer_id", "42"),  # typed integer id
        ({"customer_id": " c1 "}, "customer_id", " c1 "),  # keys are kept exactly
    ],
)
def test_passing_values_are_normalised(overrides: dict, column: str, expected: object) -> None:
    row, rejects = _one(**overrides)
    assert rejects == []
    assert row[column] == expected


# -- failing examples: key, field, check, and a reason naming the value --------------------

@pytest.mark.parametrize(
    ("overrides", "field", "check", "in_reason"),
    [
        ({"customer_id": None}, "customer_id", "required", "customer_id is required"),
        ({"customer_id": "   "}, "customer_id", "required", "customer_id is required"),
        ({"customer_id": {"id": 1}}, "customer_id", "type", "must be text"),
        ({"customer_id": "c\x001"}, "customer_id", "control_chars", "'c\\x001'"),
        ({"email": None, "mobile_number": None}, "email", "required",
         "email is required unless mobile_number is given"),
        ({"email": "jo@@x"}, "email", "email_syntax",
         "email 'jo@@x' is not a valid e-mail address: "),
        ({"first_name": "J" * 51}, "first_name", "max_length", "51 characters long"),
        ({"last_name": "x" * 51}, "last_name", "max_length", "at most 50"),
        ({"first_name": "Jo\x07"}, "first_name", "control_chars", "'Jo\\x07'"),
        ({"first_name": ["Jo"]}, "first_name", "type", "must be text, got list"),
        ({"mobile_number": "0161 496 000"}, "mobile_number", "e164",
         "mobile_number '0161 496 000' is not a valid number for GB"),
        ({"mobile_number": "12345", "country": "US"}, "mobile_number", "e164", "'12345'"),
        ({"country": "UK"}, "country", "iso3166", "country 'UK' is not an ISO 3166-1 alpha-2"),
        ({"country": "XK"}, "country", "iso3166", "'XK'"),
        ({"email_type": "xml"}, "email_type", "enum", "email_type 'xml' must be one of"),
        ({"opt_in_type": "triple"}, "opt_in_type", "enum", "'triple'"),
        ({"email_consent": "yes"}, "email_consent", "enum", "email_consent 'yes' must be one of"),
        ({"sms_consent": "maybe"}, "sms_consent", "enum", "sms_consent 'maybe'"),
        ({"store": "uk\x1b[31m"}, "store", "control_chars", "\\x1b"),
        ({"data_fields": '{"TIER": "gold"'}, "data_fields", "json_syntax", "not valid JSON"),
        ({"data_fields": "[1, 2]"}, "data_fields", "json_shape", "must be a JSON object"),
        ({"data_fields": '{"A":[1]}'}, "data_fields", "json_shape", "holds an array"),
        ({"data_fields": '{"A":{"B":1}}'}, "data_fields", "json_shape", "holds an object"),
        ({"data_fields": '{"ABCDEFGHIJKLMNOPQRSTU":1}'}, "data_fields", "data_field_name",
         "'ABCDEFGHIJKLMNOPQRSTU'"),
        ({"data_fields": '{"bad name":1}'}, "data_fields", "data_field_name", "'bad name'"),
        ({"data_fields": '{"":1}'}, "data_fields", "data_field_name", "''"),
        ({"data_fields": '{"A":"x\\u0000y"}'}, "data_fields", "control_chars", "'A'"),
        ({"updated_at": None}, "updated_at", "required", "updated_at is required"),
        ({"updated_at": "yesterday"}, "updated_at", "iso8601", "'yesterday'"),
        ({"updated_at": "now"}, "updated_at", "iso8601", "'now'"),
        ({"updated_at": "2026-02-30"}, "updated_at", "iso8601", "'2026-02-30'"),
        ({"updated_at": "-1"}, "updated_at", "iso8601", "'-1'"),
        ({"updated_at": "0-1"}, "updated_at", "iso8601", "'0-1'"),
        ({"updated_at": "1899-12-31T23:59:59Z"}, "updated_at", "iso8601", "'1899-12-31"),
        ({"updated_at": 1767225600}, "updated_at", "iso8601", "1767225600"),
    ],
)
def test_failing_values_are_rejected(
    overrides: dict, field: str, check: str, in_reason: str
) -> None:
    result = validate_customers(frame([customer(**overrides)]), "GB", STRICT)
    assert result.valid.empty
    rejects = result.rejects
    assert list(rejects.columns) == list(REJECT_COLUMNS)
    match = rejects[(rejects["field"] == field) & (rejects["check"] == check)]
    assert len(match) == 1, rejects.to_dict("records")
    if "customer_id" not in overrides:
        assert match["key"].iloc[0] == "c1"
    assert in_reason in match["reason"].iloc[0]
    assert match["row"].iloc[0] == 0


def test_no_region_and_no_plus_is_rejected_with_a_reason_saying_so() -> None:
    result = validate_customers(frame([customer(mobile_number="07911 123456", country=None)]),
                                None, STRICT)
    [reject] = result.rejects.to_dict("records")
    assert (reject["field"], reject["check"]) == ("mobile_number", "e164")
    assert "has no country code (+…) and no country or default region" in reject["reason"]


def test_an_unknown_default_region_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="'UK'"):
        validate_customers(frame([customer()]), "UK")


def test_the_rejected_value_is_clipped_and_escaped() -> None:
    long_name = "\x1b[2J" + "x" * 200
    result = validate_customers(frame([customer(first_name=long_name)]), "GB", STRICT)
    values = result.rejects.set_index("check")["value"]
    value = values["control_chars"]
    assert "\x1b" not in value
    assert value.startswith("\\x1b[2Jxxx") and value.endswith("…")
    assert len(value) == 80 + 3  # 80 characters, the escape spelt out in four


def test_all_problems_of_a_row_are_reported() -> None:
    result = validate_customers(frame([customer(email="x", country="ZZ", email_type="rich",
                                                updated_at="soon")]), "GB", STRICT)
    assert {(f, c) for _, f, c in rejects_of(result)} == {
        ("email", "email_syntax"), ("country", "iso3166"), ("email_type", "enum"),
        ("updated_at", "iso8601")}


def test_repeated_ids_are_rejected_everywhere_they_occur() -> None:
    result = validate_customers(frame([customer(), customer(email="b@example.com")]), "GB")
    assert rejects_of(result) == [("c1", "customer_id", "unique"), ("c1", "customer_id", "unique")]
    assert result.valid.empty


# -- frames --------------------------------------------------------------------------------

def test_mixed_frame_keeps_good_rows_unchanged_and_reports_each_bad_row() -> None:
    good = [customer(customer_id=f"g{i}", email=f"g{i}@example.com") for i in range(5)]
    bad = [customer(customer_id="b1", email="nope"),
           customer(customer_id="b2", mobile_number="123", country="GB"),
           customer(customer_id="b3", updated_at=None)]
    rows = [good[0], bad[0], good[1], good[2], bad[1], good[3], bad[2], good[4]]
    index = [100, 101, 102, 103, 104, 105, 106, 107]
    mixed = validate_customers(frame(rows, index=index), "GB", STRICT)
    alone = validate_customers(frame(good, index=[100, 102, 103, 105, 107]), "GB", STRICT)
    pd.testing.assert_frame_equal(mixed.valid, alone.valid)
    assert list(mixed.valid.index) == [100, 102, 103, 105, 107]
    assert mixed.rejects["key"].tolist() == ["b1", "b2", "b3"]
    assert mixed.rejects["row"].tolist() == [101, 104, 106]


def test_valid_has_the_spec_columns_then_other_input_columns() -> None:
    df = frame([customer()])
    df["loaded_at"] = ["2026-01-01"]
    result = validate_customers(df, "GB")
    assert list(result.valid.columns) == [*CUSTOMER_COLUMNS, "loaded_at"]
    assert result.valid["loaded_at"].tolist() == ["2026-01-01"]
    dtypes = result.valid.dtypes
    assert str(dtypes["updated_at"]) == "datetime64[us, UTC]"
    assert all(dtypes[c] == np.dtype(object) for c in CUSTOMER_COLUMNS if c != "updated_at")


def test_missing_optional_columns_are_null_and_missing_required_ones_are_an_error() -> None:
    df = frame([customer()]).drop(columns=["store", "locale", "data_fields", "sms_consent"])
    row = validate_customers(df, "GB").valid.iloc[0]
    assert row["store"] is None and row["data_fields"] is None
    with pytest.raises(ContractError, match="updated_at"):
        validate_customers(frame([customer()]).drop(columns=["updated_at"]), "GB")


def test_empty_frame() -> None:
    df = frame([customer()]).iloc[0:0]
    result = validate_customers(df, "GB")
    assert result.valid.empty and result.rejects.empty
    assert list(result.rejects.columns) == list(REJECT_COLUMNS)


def test_nan_and_pandas_string_columns_are_accepted() -> None:
    df = frame([customer(), customer(customer_id="c2", email="b@example.com", store=None)])
    df["store"] = [np.nan, np.nan]
    df = df.astype({"first_name": "str", "customer_id": "str"})
    result = validate_customers(df, "GB")
    assert result.rejects.empty
    assert result.valid["store"].tolist() == [None, None]


def test_validating_valid_output_again_changes_nothing() -> None:
    first = validate_customers(frame([customer(email=" A@B.COM ", mobile_number="07911 123456",
                                               email_type=None)]), "GB")
    again = validate_customers(first.valid, "GB")
    assert again.rejects.empty
    pd.testing.assert_frame_equal(first.valid, again.valid)


# -- merge ---------------------------------------------------------------------------------

def _valid(rows: list[dict]) -> pd.DataFrame:
    result = validate_customers(frame(rows, index=range(10, 10 + len(rows))), "GB")
    assert result.rejects.empty, result.rejects.to_dict("records")
    return result.valid


def test_mixed_case_duplicates_become_one_contact_with_the_newest_fields() -> None:
    valid = _valid([
        customer(customer_id="c1", email="Jo@X.com", first_name="Old",
                 updated_at="2026-01-01T00:00:00Z"),
        customer(customer_id="c2", email="jo@x.com ", first_name="New",
                 updated_at="2026-03-01T00:00:00Z"),
        customer(customer_id="c3", email="JO@x.COM", first_name="Middle",
                 updated_at="2026-02-01T00:00:00Z"),
        customer(customer_id="c4", email="other@x.com", first_name="Other"),
    ])
    contacts, merged = merge_customers(valid)
    assert contacts["customer_id"].tolist() == ["c2", "c4"]
    assert contacts.loc[11, "first_name"] == "New"
    assert contacts["match_identifier"].tolist() == ["email", "email"]
    assert merged.to_dict("records") == [
        {"customer_id": "c1", "email": "jo@x.com", "mobile_number": "+447911123456",
         "merged_into": "c2"},
        {"customer_id": "c3", "email": "jo@x.com", "mobile_number": "+447911123456",
         "merged_into": "c2"},
    ]
    assert list(merged.index) == [10, 12]


def test_ties_are_broken_by_the_smallest_customer_id_whatever_the_order() -> None:
    rows = [customer(customer_id=cid, email="jo@x.com", updated_at="2026-01-01T00:00:00Z")
            for cid in ("c9", "c10", "c2")]
    for order in (rows, rows[::-1]):
        contacts, merged = merge_customers(_valid(order))
        assert contacts["customer_id"].tolist() == ["c10"]
        assert set(merged["merged_into"]) == {"c10"}


def test_customers_without_email_are_contacts_keyed_by_mobile_number() -> None:
    valid = _valid([
        customer(customer_id="m1", email=None, mobile_number="07911 123456",
                 updated_at="2026-01-01T00:00:00Z"),
        customer(customer_id="m2", email=None, mobile_number="+44 7911 123456",
                 updated_at="2026-02-01T00:00:00Z"),
        customer(customer_id="m3", email=None, mobile_number="+447911123457"),
        customer(customer_id="e1", email="jo@x.com", mobile_number="+447911222333"),
    ])
    contacts, merged = merge_customers(valid)
    assert contacts["customer_id"].tolist() == ["m2", "m3", "e1"]
    assert contacts["match_identifier"].tolist() == ["mobileNumber", "mobileNumber", "email"]
    assert merged[["customer_id", "merged_into"]].values.tolist() == [["m1", "m2"]]


def test_merge_of_nothing() -> None:
    contacts, merged = merge_customers(_valid([customer()]).iloc[0:0])
    assert contacts.empty and merged.empty
    assert list(merged.columns) == ["customer_id", "email", "mobile_number", "merged_into"]
