"""The shortcuts behind quick import submits and compact storage change no answer.

``first_unclean_record`` may only vouch for records the full checker finds nothing wrong
with; ``compact`` must give back exactly what it was given, and parse exactly what the
standard library parses.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.emulator import compact
from dotsync.emulator.validation import check_contact_body, first_unclean_record

KNOWN = {"FIRSTNAME", "LASTNAME", "STORE"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2 ** 70), st.floats(),
                    st.sampled_from(["", "x", "email", "html", "Html", "subscribed",
                                     "suppressed", "noSubscription", "single"]))
anything = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=6)


def _maybe(key: str, values: st.SearchStrategy[Any],
           absent: int = 1) -> st.SearchStrategy[dict[str, Any]]:
    """``{key: value}``, or ``{}`` (absent) about one time in ``absent + 1``."""
    return st.sampled_from([False] * absent + [True]).flatmap(
        lambda present: values.map(lambda v: {key: v}) if present else st.just({}))


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` about four times in five, so that many records are well formed."""
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda ok: good if ok else bad)


identifier_values = _mostly(st.sampled_from(["a@example.com", "447123123123", "x"]),
                            st.one_of(st.integers(-2, 5), st.booleans(), st.none(),
                                      st.lists(scalars, max_size=1)))
identifiers = _mostly(
    st.fixed_dictionaries({}, optional={
        "email": identifier_values, "mobileNumber": identifier_values,
        "contactId": _mostly(st.integers(0, 9), st.one_of(st.integers(-3, -1), st.booleans(),
                                                          st.just("7")))}),
    st.one_of(anything, st.dictionaries(st.sampled_from(["contactId", "custom", "email"]),
                                        st.one_of(st.integers(-2, 5), identifier_values),
                                        max_size=2)))
data_fields = _mostly(
    st.dictionaries(st.sampled_from(["FIRSTNAME", "LASTNAME", "STORE"]),
                    st.one_of(scalars, st.sampled_from(["Jane", "2026-01-01"])), max_size=3),
    st.one_of(anything, st.dictionaries(
        st.sampled_from(["firstname", "NOT_KNOWN", "bad name", "TOO-LONG-NAME-FOR-DD1",
                         "X\n", "STORE"]), anything, max_size=3)))
enum_values = st.sampled_from(["html", "plainText", "Html", "single", "verifiedDouble",
                               "subscribed", "unsubscribed", "pendingOptIn", "suppressed"])
email_props = _mostly(
    st.dictionaries(st.sampled_from(["emailType", "optInType", "status"]), enum_values,
                    max_size=3),
    st.dictionaries(st.sampled_from(["emailType", "status", "resubscribeOptions", "other"]),
                    st.one_of(enum_values, anything), max_size=3))
other_props = _mostly(
    st.dictionaries(st.just("status"), st.sampled_from(["subscribed", "noSubscription"]),
                    max_size=1),
    st.one_of(scalars, st.dictionaries(st.sampled_from(["status", "other"]),
                                       st.one_of(enum_values, anything), max_size=2)))
channels = _mostly(
    st.fixed_dictionaries({}, optional={"email": email_props, "sms": other_props,
                                        "whatsApp": other_props}),
    st.one_of(anything, st.dictionaries(st.sampled_from(["email", "push"]), anything,
                                        max_size=2)))
lists_ = _mostly(st.lists(st.integers(0, 9), min_size=1, max_size=3),
                 st.one_of(anything, st.lists(st.one_of(st.integers(0, 9), st.booleans()),
                                              max_size=101)))
records = st.builds(
    lambda *parts: {k: v for part in parts for k, v in part.items()},
    _maybe("matchIdentifier", _mostly(st.sampled_from(["email", "mobileNumber", "contactId"]),
                                      st.sampled_from(["custom", "bad name", 3, None])),
           absent=0),
    _maybe("identifiers", identifiers, absent=0), _maybe("dataFields", data_fields),
    _maybe("channelProperties", channels), _maybe("lists", lists_),
    _maybe("consentRecords", anything, absent=5), _maybe("extra", anything))


def _full_check(record: Any, known: set[str] | None) -> list[tuple[str, str]]:
    try:
        return check_contact_body(record, "r", known_fields=known, for_import=True)
    except TypeError:  # the full checker chokes on an unhashable enum value: a 500, not a pass
        return [("r", "unreadable")]


@settings(max_examples=1500, deadline=None)
@given(batch=st.lists(st.one_of(records, records, records, anything), min_size=1, max_size=6),
       known=st.sampled_from([None, KNOWN]))
def test_the_fast_check_never_passes_a_record_the_full_checker_refuses(
        batch: list[Any], known: set[str] | None) -> None:
    good: set[str] = set()
    for record in batch:  # one by one, and as a batch (the caches carry over)
        if first_unclean_record([record], 0, good, known) == 1:
            assert _full_check(record, known) == [], record
    i = first_unclean_record(batch, 0, set(), known)
    for record in batch[:i]:
        assert _full_check(record, known) == [], record
    if i < len(batch):
        assert first_unclean_record(batch, i + 1, set(), known) > i


def test_the_fast_check_vouches_for_the_usual_record() -> None:
    record = {"matchIdentifier": "email",
              "identifiers": {"email": "a@example.com", "mobileNumber": "447400000001"},
              "dataFields": {"FIRSTNAME": "Jane", "LASTNAME": "Doe"},
              "channelProperties": {"email": {"emailType": "html", "optInType": "single",
                                              "status": "subscribed"}},
              "lists": [1, 2]}
    assert first_unclean_record([record] * 3, 0, set(), KNOWN) == 3
    assert first_unclean_record([record, {**record, "consentRecords": [{}]}], 0, set(),
                                KNOWN) == 1


@given(value=anything)
def test_packed_values_come_back_exactly(value: Any) -> None:
    packed = compact.pack(value)
    back = compact.unpack(packed)
    assert _same(back, value)
    if isinstance(packed, bytes):
        assert _same(json.loads(compact.pack_json_bytes(packed)), back)


def test_values_orjson_cannot_give_back_are_kept_as_they_are() -> None:
    for value in ({"n": float("nan")}, {"big": 2 ** 64}, {"s": "\ud800"}, [float("inf")]):
        assert compact.pack(value) is value
        assert _same(compact.unpack(compact.pack(value)), value)


def test_loads_accepts_what_the_standard_library_accepts() -> None:
    for text in (b'{"a": NaN}', b'\xef\xbb\xbf{"a": 1}', '{"a": 1}'.encode("utf-16"),
                 b'["\\ud800"]', b'{"a": 1, "a": 2}', b'[1e400]'):
        assert _same(compact.loads(text), json.loads(text))
    for bad in (b"{", b"", b"\xff"):
        try:
            compact.loads(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def _same(a: Any, b: Any) -> bool:
    """Equality that also holds for NaN and tells 1 from True and 1.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
