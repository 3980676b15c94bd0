"""Records kept while their import runs come back exactly as they went in, compactly."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync.inflight import Kept

_value = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.text(),
                   st.floats(allow_nan=False), st.binary(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4).flatmap(
    lambda width: st.lists(st.tuples(*[_value] * width), max_size=20)))
def test_rows_come_back_identical(rows):
    fields = [f"f{i}" for i in range(len(rows[0]))] if rows else ["f0"]
    kept = Kept(fields, rows)
    back = list(kept.rows())
    assert len(kept) == len(rows)
    assert [tuple(r[f] for f in fields) for r in back] == rows
    for row, original in zip(back, rows, strict=True):  # same types, not just equal values
        assert [type(v) for v in row.values()] == [type(v) for v in original]


def test_lone_surrogates_and_mixed_columns_are_kept_as_they_are():
    rows = [("\ud800", 1), (None, "one"), ("ok", 2.5)]
    assert [tuple(r.values()) for r in Kept(("a", "b"), rows)] == rows


def test_typical_order_bookkeeping_takes_a_fraction_of_dict_rows():
    fields = ("order_id", "customer_email", "_hash", "_payload_hash", "_first_sync",
              "fulfilled_date")
    rows = [(f"O{i}", f"customer{i}@example.com", f"{i:016x}", f"{i:032x}", i % 2 == 0,
             "2026-02-02T10:00:00.000Z") for i in range(10_000)]
    as_dicts = sum(sys.getsizeof(dict(zip(fields, r, strict=True)))
                   + sum(sys.getsizeof(v) for v in r) for r in rows)
    kept = Kept(fields, rows)
    assert kept.nbytes * 3 < as_dicts


@settings(max_examples=300, deadline=None)
@given(key=st.text(min_size=1), members=st.lists(st.tuples(
           st.text(), st.one_of(st.none(), st.text()), st.one_of(st.just(False), st.text())),
           max_size=3),
       email=st.one_of(st.none(), st.text()), same_email=st.booleans(),
       identity=st.text(min_size=1), same_identity=st.booleans())
def test_contact_bookkeeping_comes_back_identical(key, members, email, same_email, identity,
                                                  same_identity):
    from dotsync.sync.steps.contact_import import CONTACT_SETTLE_FIELDS as _CONTACT_SETTLE_FIELDS
    from dotsync.sync.steps.contact_import import pack_contact as _pack_contact
    from dotsync.sync.steps.contact_import import unpack_contact as _unpack_contact

    values = (key, "0" * 32, members, key if same_email else email,
              key if same_identity else identity)
    kept = Kept(_CONTACT_SETTLE_FIELDS, [_pack_contact(*values)])
    (back,) = [_unpack_contact(item) for item in kept]
    assert (back["key"], back["payload_hash"], back["customers"], back["email"],
            back["identity"]) == values


def test_packed_contacts_take_the_memory_of_their_bytes_not_a_serialiser_buffer():
    import tracemalloc

    from dotsync.sync.steps.contact_import import pack_contact as _pack_contact

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        packed = [_pack_contact(f"c{i}@example.com", "0" * 32, [(f"C{i}", "ab" * 8, False)],
                                f"c{i}@example.com", f"c{i}@example.com") for i in range(2_000)]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(packed) == 2_000
    assert used / 2_000 < 400  # a 40-byte JSON list, a tuple and a flag: not ~4 KB each


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(_value, _value), max_size=30), size=st.integers(1, 8))
def test_batches_give_the_same_rows_in_order_a_slice_at_a_time(rows, size):
    kept = Kept(("a", "b"), rows)
    batches = list(kept.batches(size))
    assert all(0 < len(b) <= size for b in batches)
    assert [r for b in batches for r in b] == list(kept.rows())
    assert len(batches) == -(-len(rows) // size)


def test_a_batch_size_below_one_is_refused():
    import pytest

    with pytest.raises(ValueError, match="at least 1"):
        list(Kept(("a",), [(1,)]).batches(0))


_hexish = st.text(alphabet="0123456789abcdefABCDEF ", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), _hexish), max_size=12))
def test_hex_looking_columns_come_back_as_the_same_strings(values):
    kept = Kept(("h",), [(v,) for v in values])
    back = [r["h"] for r in kept.rows()]
    assert back == values
    assert all(type(b) is type(v) for b, v in zip(back, values, strict=True))


def test_fingerprints_and_empty_columns_are_held_in_less_space():
    hashes = [(f"{i:032x}", None) for i in range(1_000)]
    kept = Kept(("payload_hash", "email"), hashes)
    assert kept.nbytes < 1_000 * 32  # 16 bytes a hash (plus offsets), not 32 characters
    assert [tuple(r.values()) for r in kept] == hashes


_json_value = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53), st.text())


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_json_value, _json_value, _json_value), max_size=25))
def test_a_column_reads_one_field_in_order_and_leaves_the_rows(rows):
    from dotsync.sync.inflight import SpooledRows

    fields = ("key", "customer_email", "flag")
    spooled = SpooledRows(fields)
    for row in rows:
        spooled.append(row)
    for at, field in enumerate(fields):
        expected = [row[at] for row in rows]
        assert spooled.column(field) == expected
    # Reading a column consumes nothing: every row is still there to be settled, and
    # rows appended afterwards go after them.
    spooled.append(("last", None, True))
    back = [r for b in spooled.batches(7) for r in b]
    assert [tuple(r[f] for f in fields) for r in back] == [*rows, ("last", None, True)]
