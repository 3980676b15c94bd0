"""The certificates contract (SPEC §1): one passing and one failing example per rule."""

from __future__ import annotations

import pandas as pd
import pytest
from dotsync.data_contracts import CERTIFICATE_COLUMNS, validate_certificates
from dotsync.data_contracts.optional import all_optional

from tests.contracts.conftest import certificate, frame, rejects_of

#: Every optional field made strict: their problems reject, as every problem did before
#: SPEC §1 made optional fields' problems warnings (tests/contracts/test_warnings.py).
STRICT = all_optional()



def _one(default: int | None = 7, **overrides: object) -> tuple[dict, list]:
    result = validate_certificates(frame([certificate(**overrides)]), default)
    valid = result.valid.to_dict("records")
    return (valid[0] if valid else {}), rejects_of(result)


@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [
        ({"recipient_email": " Jo@Example.com "}, "recipient_email", "jo@example.com"),
        ({"code": " GIFT-1 "}, "code", "GIFT-1"),
        ({"amount": "0.01"}, "amount", 0.01),
        ({"amount": 25}, "amount", 25.0),
        ({"currency": "usd"}, "currency", "USD"),
        ({"link": "https://shop.example.com/g?c=1#x"}, "link", "https://shop.example.com/g?c=1#x"),
        ({"link": "HTTPS://Shop.Example.com/g"}, "link", "HTTPS://Shop.Example.com/g"),
        ({"link": "https://shop.example.com:8443/g"}, "link", "https://shop.example.com:8443/g"),
        ({"expires_at": None}, "expires_at", pd.NaT),
        ({"expires_at": "2027-01-01"}, "expires_at", pd.Timestamp("2027-01-01T00:00:00Z")),
        ({"campaign_id": "42"}, "campaign_id", 42),
        ({"campaign_id": 42.0}, "campaign_id", 42),  # Parquet: ints with nulls are floats
        ({"campaign_id": None}, "campaign_id", 7),  # the default campaign
        ({"campaign_id": "  "}, "campaign_id", 7),
        ({"updated_at": "2026-05-01T00:00:00-05:00"}, "updated_at",
         pd.Timestamp("2026-05-01T05:00:00Z")),
    ],
)
def test_passing_values_are_normalised(overrides: dict, column: str, expected: object) -> None:
    row, rejects = _one(**overrides)
    assert rejects == []
    if expected is pd.NaT:
        assert row[column] is pd.NaT
    else:
        assert row[column] == expected


@pytest.mark.parametrize(
    ("overrides", "default", "field", "check", "in_reason"),
    [
        ({"certificate_id": None}, 7, "certificate_id", "required", "certificate_id is required"),
        ({"recipient_email": None}, 7, "recipient_email", "required", "is required"),
        ({"recipient_email": "jo"}, 7, "recipient_email", "email_syntax",
         "recipient_email 'jo' is not a valid e-mail address"),
        ({"code": None}, 7, "code", "required", "code is required"),
        ({"code": "A\x1bB"}, 7, "code", "control_chars", "'A\\x1bB'"),
        ({"amount": "0"}, 7, "amount", "positive", "amount '0' must be greater than 0"),
        ({"amount": "-5"}, 7, "amount", "positive", "'-5'"),
        ({"amount": "ten"}, 7, "amount", "decimal", "'ten'"),
        ({"amount": None}, 7, "amount", "required", "amount is required"),
        ({"currency": "EURO"}, 7, "currency", "iso4217", "currency 'EURO' is not an ISO 4217"),
        ({"link": "http://shop.example.com/g"}, 7, "link", "https_url",
         "link 'http://shop.example.com/g' is not an https:// URL"),
        ({"link": "https:///g"}, 7, "link", "https_url", "has no host"),
        ({"link": "https//shop.example.com"}, 7, "link", "https_url", "not an https:// URL"),
        ({"link": "https://shop.example.com/a b"}, 7, "link", "https_url", "spaces"),
        ({"link": "https://shop.example.com:99999/"}, 7, "link", "https_url", "not a valid URL"),
        ({"link": "javascript:alert(1)"}, 7, "link", "https_url", "'javascript:alert(1)'"),
        ({"link": None}, 7, "link", "required", "link is required"),
        ({"expires_at": "next year"}, 7, "expires_at", "iso8601", "'next year'"),
        ({"campaign_id": "12a"}, 7, "campaign_id", "integer", "campaign_id '12a' is not a whole"),
        ({"campaign_id": 4.5}, 7, "campaign_id", "integer", "4.5"),
        ({"campaign_id": "0"}, 7, "campaign_id", "positive", "'0' must be greater than 0"),
        ({"campaign_id": None}, None, "campaign_id", "required",
         "no default certificate campaign is configured"),
        ({"updated_at": None}, 7, "updated_at", "required", "updated_at is required"),
    ],
)
def test_failing_values_are_rejected(
    overrides: dict, default: int | None, field: str, check: str, in_reason: str
) -> None:
    result = validate_certificates(frame([certificate(**overrides)]), default, STRICT)
    assert result.valid.empty
    rejects = result.rejects
    match = rejects[(rejects["field"] == field) & (rejects["check"] == check)]
    assert len(match) == 1, rejects.to_dict("records")
    if "certificate_id" not in overrides:
        assert match["key"].iloc[0] == "g1"
    assert in_reason in match["reason"].iloc[0]


@pytest.mark.parametrize("default", [0, -1, "42", 4.2, True])
def test_a_bad_default_campaign_is_a_usage_error(default: object) -> None:
    with pytest.raises(ValueError, match="default_campaign_id"):
        validate_certificates(frame([certificate()]), default)  # type: ignore[arg-type]


def test_valid_columns_and_types() -> None:
    valid = validate_certificates(frame([certificate()]), None).valid
    assert list(valid.columns) == list(CERTIFICATE_COLUMNS)
    assert valid["campaign_id"].dtype == "int64"
    assert valid["amount"].dtype == "float64"
    assert str(valid["expires_at"].dtype) == "datetime64[us, UTC]"


def test_mixed_frame_keeps_good_rows_unchanged_and_reports_each_bad_row() -> None:
    good = [certificate(certificate_id=f"g{i}", campaign_id=None if i % 2 else "5")
            for i in range(4)]
    bad = [certificate(certificate_id="b1", amount="0"), certificate(certificate_id="b2",
                                                                      link="ftp://x")]
    mixed = validate_certificates(frame([good[0], bad[0], good[1], good[2], bad[1], good[3]]), 9)
    alone = validate_certificates(frame(good, index=[0, 2, 3, 5]), 9)
    pd.testing.assert_frame_equal(mixed.valid, alone.valid)
    assert mixed.valid["campaign_id"].tolist() == [5, 9, 5, 9]
    assert rejects_of(mixed) == [("b1", "amount", "positive"), ("b2", "link", "https_url")]
