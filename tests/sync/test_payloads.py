"""What reaches Dotdigital (SPEC §2), built from validated rows, checked against the specs."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync import payloads
from tests.contract.spec import validate_request

CUSTOMER = {
    "customer_id": "C1", "email": "jo@example.com", "first_name": "Jo", "last_name": "Bloggs",
    "mobile_number": "+447700900123", "country": "GB", "email_type": "plaintext",
    "opt_in_type": "verified_double", "email_consent": "subscribed", "sms_consent": None,
    "store": "uk-web", "locale": None, "data_fields": {"LOYALTY_TIER": "gold", "EMPTY": None},
}
ORDER = {
    "order_id": "100001", "customer_email": "jo@example.com", "status": "shipped",
    "currency": "GBP", "total": 44.95, "subtotal": 40.0, "tax": 7.49, "shipping": 4.95,
    "discount": None, "refunded": None, "placed_at": pd.Timestamp("2026-10-01T09:30:00Z"),
    "store": "uk-web", "coupon_code": None,
    "lines": [{"sku": "MUG-01", "name": "Mug", "quantity": 2, "unit_price": 12.0,
               "categories": ["Kitchen", "Gifts"]},
              {"sku": "TEE", "name": "Tee", "quantity": 1, "unit_price": 16.0,
               "categories": []}],
}


def test_contact_payload_follows_spec_section_2():
    payload = payloads.contact_payload(CUSTOMER, address_book_id=42)
    assert payload["identifiers"] == {"email": "jo@example.com", "mobileNumber": "447700900123"}
    assert payload["dataFields"] == {"FIRSTNAME": "Jo", "LASTNAME": "Bloggs", "STORE": "uk-web",
                                     "LOYALTY_TIER": "gold"}
    assert payload["channelProperties"]["email"] == {
        "emailType": "plainText", "optInType": "verifiedDouble", "status": "subscribed"}
    assert "sms" not in payload["channelProperties"]  # no sms_consent: SMS status untouched
    assert payload["lists"] == [42]
    body = {"mergeOption": "overwrite", "contacts": [payload]}
    validate_request("PUT", "https://r1-api.dotdigital.com/contacts/v3/import", body)


def test_no_email_status_without_consent():
    payload = payloads.contact_payload({**CUSTOMER, "email_consent": None})
    assert "status" not in payload["channelProperties"]["email"]


def test_sms_status_only_when_sms_consent_is_set():
    payload = payloads.contact_payload({**CUSTOMER, "sms_consent": "unsubscribed"})
    assert payload["channelProperties"]["sms"] == {"status": "unsubscribed"}


def test_guest_contact_carries_only_the_email():
    assert payloads.contact_payload({"email": "guest@example.org"}) == {
        "matchIdentifier": "email", "identifiers": {"email": "guest@example.org"}}


def test_mobile_only_contact_matches_by_mobile_number():
    payload = payloads.contact_payload({**CUSTOMER, "email": None})
    assert payload["matchIdentifier"] == "mobileNumber"
    assert payloads.contact_key({**CUSTOMER, "email": None}) == "mobile:+447700900123"


def test_order_record_shape_and_joined_categories():
    record = payloads.order_record(ORDER)
    assert record["id"] == "100001"
    assert record["order_status"] == "shipped"
    assert record["purchase_date"] == "2026-10-01T09:30:00.000Z"
    assert record["order_total"] == 44.95 and record["tax_total"] == 7.49
    assert "discount_total" not in record  # absent, never null
    assert record["refunded_total"] == 0.0 and record["refunded"] is False
    assert record["products"][0] == {"sku": "MUG-01", "name": "Mug", "qty": 2, "price": 12.0,
                                     "categories": "Kitchen, Gifts"}
    assert "categories" not in record["products"][1]
    for product in record["products"]:  # no arrays nested in arrays
        assert not any(isinstance(v, list) for v in product.values())
    body = {"collectionName": "Purchases", "collectionScope": "contact",
            "collectionType": "orders", "records": [payloads.insight_import_record(ORDER)]}
    validate_request("PUT", "https://r1-api.dotdigital.com/insightData/v3/import", body)


def test_refunded_order_sets_flag():
    record = payloads.order_record({**ORDER, "refunded": 10.0})
    assert record["refunded_total"] == 10.0 and record["refunded"] is True


def test_payload_hash_is_stable_and_sensitive():
    a = payloads.payload_hash(payloads.order_record(ORDER))
    assert a == payloads.payload_hash(payloads.order_record(dict(ORDER)))
    assert a != payloads.payload_hash(payloads.order_record({**ORDER, "status": "returned"}))


@pytest.mark.parametrize("row,expected", [
    ({"code": "A1", "amount": 25.0, "currency": "GBP", "link": "https://x.example/a",
      "expires_at": pd.Timestamp("2027-01-01T00:00:00Z")},
     {"CERTIFICATE_CODE": "A1", "CERTIFICATE_AMOUNT": "25.00", "CERTIFICATE_CURRENCY": "GBP",
      "CERTIFICATE_LINK": "https://x.example/a",
      "CERTIFICATE_EXPIRES": "2027-01-01T00:00:00.000Z"}),
    ({"code": "B2", "amount": 10.5, "currency": "EUR", "link": "https://x.example/b",
      "expires_at": None},
     {"CERTIFICATE_CODE": "B2", "CERTIFICATE_AMOUNT": "10.50", "CERTIFICATE_CURRENCY": "EUR",
      "CERTIFICATE_LINK": "https://x.example/b", "CERTIFICATE_EXPIRES": ""}),
])
def test_certificate_personalisation(row, expected):
    assert payloads.certificate_personalisation(row) == expected


# -- the fast paths a backfill takes give exactly the records of the per-row path --------

_money = st.one_of(st.none(), st.floats(min_value=0, max_value=1e9, allow_nan=False)
                   .map(lambda v: round(v, 4)),
                   st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
                   st.sampled_from([0.005, 0.125, 2.675, 1.005, -0.0, -2.5, 0.5, 1e-9]))
_text = st.one_of(st.none(), st.just(""), st.text(max_size=12))
_line = st.fixed_dictionaries({
    "sku": st.text(min_size=1, max_size=8), "name": st.text(max_size=8),
    "quantity": st.integers(1, 1000), "unit_price": st.floats(0, 1e6, allow_nan=False),
    "categories": st.lists(st.text(max_size=6), max_size=3)})
_order = st.fixed_dictionaries({
    "order_id": st.text(min_size=1, max_size=10), "customer_email": st.emails(),
    "status": st.text(min_size=1, max_size=10),
    "currency": st.sampled_from(["GBP", "EUR", "JPY", "BHD", "XAU", "QQQ"]),
    "total": _money, "subtotal": _money, "tax": _money, "shipping": _money,
    "discount": _money, "refunded": _money,
    "placed_at": st.sampled_from(["2026-10-01T09:30:00.000Z", None]),
    "store": _text, "coupon_code": _text,
    "fulfilled_date": st.sampled_from([None, "2026-10-02T10:00:00.000Z"]),
    "lines": st.one_of(st.none(), st.lists(_line, max_size=3))})


@settings(max_examples=200, deadline=None)
@given(st.lists(_order, min_size=1, max_size=8))
def test_column_built_insight_records_equal_the_per_row_ones(orders):
    frame = pd.DataFrame(orders)
    for column in ("total", "subtotal", "tax", "shipping", "discount", "refunded"):
        frame[column] = frame[column].astype(float)  # as the contract types them: NaN
    expected = [payloads.insight_import_record(
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()})
        for row in orders]
    built = payloads.insight_import_records(frame)
    assert built == expected
    # The same text too (-0.0 == 0.0, but not in JSON, nor in the ledger's hashes).
    assert [payloads.payload_hash(r) for r in built] == [
        payloads.payload_hash(r) for r in expected]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text()
    | st.floats(-1e15, 1e15, allow_nan=False).map(lambda v: round(v, 2)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(_json)
def test_payload_hash_is_the_hash_of_the_standard_json_text(payload):
    # Hashes already in a ledger were taken of json.dumps' text: they must stay valid.
    import hashlib
    import json

    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert payloads.payload_hash(payload) == hashlib.blake2b(
        text.encode("utf-8"), digest_size=16).hexdigest()


def test_fields_left_out_with_a_warning_are_absent_never_null():
    row = {**CUSTOMER, "email_type": None, "opt_in_type": None, "email_consent": None,
           "first_name": None, "mobile_number": None, "data_fields": None}
    payload = payloads.contact_payload(row)
    assert "channelProperties" not in payload
    assert payload["identifiers"] == {"email": "jo@example.com"}
    assert payload["dataFields"] == {"LASTNAME": "Bloggs", "STORE": "uk-web"}
    stripped = payloads.without_mobile(payloads.contact_payload(
        {**CUSTOMER, "sms_consent": "subscribed"}))
    assert stripped["identifiers"] == {"email": "jo@example.com"}
    assert "sms" not in stripped["channelProperties"]


def test_amounts_use_the_currencys_minor_units_and_stay_numbers():
    jpy = {**ORDER, "currency": "JPY", "total": 1500.0, "subtotal": 1499.5, "tax": None,
           "shipping": None,
           "lines": [{"sku": None, "name": "Tip", "quantity": 1, "unit_price": 200.4,
                      "categories": []}]}
    [record] = payloads.insight_import_records(pd.DataFrame([jpy]))
    json_ = record["json"]
    assert json_["order_total"] == 1500.0 and isinstance(json_["order_total"], float)
    assert json_["order_subtotal"] == 1500.0  # half away from zero
    assert json_["products"] == [{"name": "Tip", "qty": 1, "price": 200.0}]
    assert payloads.order_record(jpy) == json_
    bhd = {**ORDER, "currency": "BHD", "total": 1.5}
    assert payloads.confirmation_personalisation(bhd)["ORDER_TOTAL"] == "1.500"
    assert payloads.confirmation_personalisation(jpy)["ORDER_TOTAL"] == "1500"
    assert payloads.confirmation_personalisation(ORDER)["ORDER_TOTAL"] == "44.95"
    cert = {"code": "C", "amount": 12.5, "currency": "GBP", "link": "https://x.example/g",
            "expires_at": None}
    assert payloads.certificate_personalisation(cert)["CERTIFICATE_AMOUNT"] == "12.50"


def test_a_refund_left_out_says_nothing_about_refunds():
    frame = pd.DataFrame([{**ORDER, "refunded": float("nan"), payloads.REFUND_LEFT_OUT: True},
                          {**ORDER, "order_id": "2", "refunded": float("nan"),
                           payloads.REFUND_LEFT_OUT: False}])
    left_out, absent = (r["json"] for r in payloads.insight_import_records(frame))
    assert "refunded_total" not in left_out and "refunded" not in left_out
    assert absent["refunded_total"] == 0.0 and absent["refunded"] is False
    assert "refunded" not in payloads.order_record({**ORDER, payloads.REFUND_LEFT_OUT: True})
