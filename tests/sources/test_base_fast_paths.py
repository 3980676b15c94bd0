"""The mapping helpers' fast paths give what their general definitions give."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dotsync.sources.base import MappingError, decimal, iso_timestamp, platform_id, text

_WORDS = {"none", "null", "undefined", "nan"}


@given(st.text(max_size=12) | st.sampled_from(["None", " null ", "NaN", "\xa0x", "x\u3000"]))
def test_ids_and_texts_are_stripped_and_null_words_are_no_id(value):
    stripped = value.strip()
    assert platform_id(value) == (None if not stripped or stripped.lower() in _WORDS
                                  else stripped)
    assert text(value) == (value if value.strip() else None)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       st.sampled_from([" ", "T"]))
def test_naive_seconds_timestamps_are_utc_iso(moment, sep):
    moment = moment.replace(microsecond=0)
    raw = moment.isoformat(sep=sep)
    assert iso_timestamp(raw, "created_at") == moment.replace(tzinfo=UTC).isoformat()


def test_impossible_dates_are_still_refused():
    for raw in ("2024-02-30 10:00:00", "2024-13-01 10:00:00", "2024-01-01 25:00:00"):
        try:
            iso_timestamp(raw, "created_at")
        except MappingError as exc:
            assert "created_at" in str(exc)
        else:
            raise AssertionError(raw)


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.integers())
def test_amounts_keep_their_value_and_refuse_what_is_not_finite(value):
    if isinstance(value, Decimal) and not value.is_finite():
        try:
            decimal(value, "price")
        except MappingError as exc:
            assert "price" in str(exc)
        else:
            raise AssertionError(value)
    else:
        result = decimal(value, "price")
        assert result == value and type(result) is Decimal
