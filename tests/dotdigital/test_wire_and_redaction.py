"""The wire encoding and the redaction helpers on their own, without HTTP."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dotsync.dotdigital.redaction import MASK, Scrubber, mask_path
from dotsync.dotdigital.wire import (
    BODY_PART_BYTES,
    SerializedRecord,
    chunk_body,
    dumps,
    encode_body,
    splice,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(envelope=st.dictionaries(st.text().filter(lambda k: k != "records"), json_values,
                                max_size=3),
       records=st.lists(json_values, min_size=1, max_size=6))
def test_splicing_serialised_records_is_dumping_the_whole_body(envelope, records) -> None:
    encoded = [SerializedRecord(dumps(r)) for r in records]
    whole = dumps({**envelope, "records": records})
    assert splice(envelope, "records", encoded) == whole
    assert chunk_body(envelope, "records", encoded) == whole
    assert chunk_body(envelope, "records", records) is None  # plain dicts: caller encodes


def test_a_body_is_encoded_once_and_large_ones_go_in_parts() -> None:
    assert encode_body(None) == (None, None)
    content, headers = encode_body({"a": 1})
    assert content == b'{"a":1}' and headers == {"Content-Type": "application/json"}
    content, _ = encode_body(bytearray(b"[1]"))
    assert content == b"[1]" and type(content) is bytes  # httpx iterates a bytearray
    big = b"[" + b"1," * BODY_PART_BYTES + b"1]"
    parts, headers = encode_body(big)
    assert headers is not None and headers["Content-Length"] == str(len(big))
    assert b"".join(bytes(p) for p in parts) == big
    assert all(len(p) <= BODY_PART_BYTES for p in parts)


def test_dumps_falls_back_for_integers_beyond_64_bits() -> None:
    assert json.loads(dumps({"n": 2**70})) == {"n": 2**70}


def test_paths_lose_addresses_and_mobile_numbers() -> None:
    assert "jo@example.com" not in mask_path("/contacts/v3/email/jo%40example.com")
    assert mask_path("/contacts/v3/mobileNumber/447700900123") == \
        "/contacts/v3/mobileNumber/***23"


def test_the_scrubber_removes_every_secret_everywhere_and_keeps_addresses_in_values() -> None:
    scrub = Scrubber(lambda: "s3cret", lambda: "dG9rZW4=")
    assert scrub.secrets("a s3cret and dG9rZW4= b") == f"a {MASK} and {MASK} b"
    assert "jo@example.com" not in scrub.text("s3cret for jo@example.com")
    body = {"message": "s3cret", "details": [{"item": "jo@example.com", "n": 1}]}
    assert scrub.value(body) == {"message": MASK,
                                 "details": [{"item": "jo@example.com", "n": 1}]}
    assert "s3cret" not in repr(scrub)
