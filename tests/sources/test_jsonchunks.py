"""Chunked decoding of big JSON arrays gives exactly what a whole-document parse
gives, wherever the chunks happen to cut, and hands anything odd back to ijson."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotsync.sources import jsonchunks
from dotsync.sources.files import FileKindError, iter_objects

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(
    list(',[]{}":\\ \n')), max_size=12)
_SCALAR = (st.none() | st.booleans() | st.integers() | _TEXT
           | st.decimals(allow_nan=False, allow_infinity=False, places=4))
_VALUE = st.recursive(_SCALAR, lambda c: st.lists(c, max_size=4)
                      | st.dictionaries(_TEXT, c, max_size=4), max_leaves=15)


def _render(value: object) -> str:
    """JSON text with Decimals as numbers of exactly their digits."""
    if isinstance(value, Decimal):
        return format(value, "f") if value == value.to_integral_value() and "." not in \
            str(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",\n ".join(f"{json.dumps(k)}: {_render(v)}"
                                  for k, v in value.items()) + "}"
    return json.dumps(value)


def _read(data: bytes, start: int, envelope: bool, chunk: int) -> list:
    return list(jsonchunks.iter_elements(io.BytesIO(data), start, envelope=envelope,
                                         chunk_bytes=chunk))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_VALUE, max_size=6), chunk=st.integers(1, 64),
       envelope=st.booleans())
def test_elements_are_what_a_whole_parse_gives_wherever_chunks_cut(values, chunk,
                                                                   envelope):
    array = _render(values)
    if envelope:
        text = '{"search_criteria": {"items": [1, "],"]}, "items": ' + array \
            + ', "total_count": 3}\n'
    else:
        text = "  " + array + "\n"
    data = text.encode()
    expected = json.loads(data, parse_float=Decimal)
    expected = expected["items"] if envelope else expected
    start = jsonchunks.envelope_start(io.BytesIO(data), "items") if envelope \
        else data.index(b"[")
    assert start is not None
    got = _read(data, start, envelope, chunk)
    assert got == expected
    # Exact types: Decimal stays Decimal (never float), whole numbers stay int.
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_money_keeps_its_digits():
    data = (b'[{"grand_total": 59.90, "qty": 1, "tiny": 1E-30, '
            b'"big": 123456789012345678901234567890.01}]')
    (order,) = _read(data, 0, False, 7)
    assert order == {"grand_total": Decimal("59.90"), "qty": 1, "tiny": Decimal("1E-30"),
                     "big": Decimal("123456789012345678901234567890.01")}
    assert str(order["grand_total"]) == "59.90"


@pytest.mark.parametrize("data", [b"[,1]", b"[1,,2]", b"[1,]", b"[1 2]", b'[{"a":1}',
                                  b"[1] x", b'["\\ud800"]', b"[NaN]"])
def test_invalid_or_odd_arrays_are_left_to_ijson(data):
    with pytest.raises(jsonchunks.Unsupported):
        _read(data, 0, False, 4)


def test_an_envelope_whose_tail_is_broken_is_left_to_ijson():
    data = b'{"items": [{"a": 1}], "total_count": }'
    with pytest.raises(jsonchunks.Unsupported):
        _read(data, jsonchunks.envelope_start(io.BytesIO(data), "items"), True, 1 << 20)


def test_the_envelope_key_inside_a_string_or_a_nested_object_is_not_the_array():
    data = b'{"note": "\\"items\\": [", "meta": {"items": [9]}, "items": [{"id": 1}]}'
    start = jsonchunks.envelope_start(io.BytesIO(data), "items")
    assert data[start - 9 : start + 1] == b'"items": ['
    assert _read(data, start, True, 3) == [{"id": 1}]


def _objects(path, wanted="orders"):
    return list(iter_objects(path, {"orders": "orders"}, {}, wanted, "orders"))


def test_a_file_with_a_lone_surrogate_reads_as_ijson_reads_it(tmp_path):
    path = tmp_path / "orders.json"
    path.write_bytes(b'{"orders": [\n{"id": 1},\n{"id": 2, "name": "\\ud800"},\n{"id": 3}]}')
    got = _objects(path)
    assert [pos for pos, _ in got] == [1, 2, 3]
    assert [o["id"] for _, o in got] == [1, 2, 3]


def test_a_file_broken_midway_names_the_last_good_element(tmp_path):
    path = tmp_path / "orders.json"
    good = ",".join(json.dumps({"id": i, "total_price": "1.00"}) for i in range(50))
    path.write_text('{"orders": [\n' + good + ', {"id": 50, "total_price": ]}')
    seen = []
    with pytest.raises(FileKindError, match="after element 50"):
        for pos, _ in iter_objects(path, {"orders": "orders"}, {}, "orders", "orders"):
            seen.append(pos)
    assert seen == list(range(1, 51))


@given(st.binary(max_size=300) | st.text(alphabet='{}[]",\\ab', max_size=300).map(str.encode))
def test_the_vectorised_level_count_equals_the_plain_one(buf):
    from dotsync.sources.jsonchunks import _level, _level_all

    assert _level_all(buf) == _level(buf, 0, len(buf))
