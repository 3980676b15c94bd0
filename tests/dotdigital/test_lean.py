"""Decoding a report without its long lists gives exactly the other members."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.dotdigital.lean import contact_import_head

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_members = st.sampled_from(["importId", "status", "summary", "failures", "created",
                            "updated", "other"]) | st.text()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_members, _json, max_size=8))
def test_the_other_members_come_back_as_a_full_decode_gives_them(document):
    raw = orjson.dumps(document)
    wanted = {"importId", "status", "summary", "failures"}
    assert contact_import_head(raw) == {
        k: v for k, v in orjson.loads(raw).items() if k in wanted}


@settings(max_examples=100, deadline=None)
@given(_json.filter(lambda v: not isinstance(v, dict)))
def test_a_document_that_is_not_an_object_comes_back_whole(document):
    raw = orjson.dumps(document)
    assert contact_import_head(raw) == orjson.loads(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b'{"status": }', b"\xff\xfe", b"nul"])
def test_what_is_not_json_is_a_value_error(raw):
    with pytest.raises(ValueError, match="not JSON"):
        contact_import_head(raw)
