"""Catalogue imports cut per collection: stores interleaved in the change feed still make
full imports, each body one collection's, under the byte cap, every record once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.dotdigital.wire import build_insight_import_body, chunk_body
from dotsync.sync.steps.catalog_import import collection_chunks

_names = st.sampled_from(["catalog_uk", "catalog_de", "catalog_fr-1"])
_records = st.lists(
    st.tuples(_names, st.fixed_dictionaries({
        "key": st.text(min_size=1, max_size=12),
        "json": st.fixed_dictionaries({"name": st.text(max_size=200),
                                       "price_minor": st.integers(0, 10**9)})})),
    max_size=60)


def _run(pairs: list[tuple[str, dict[str, Any]]], max_bytes: int,
         budget: int | None = None) -> tuple[list[Any], list[tuple[Any, int]]]:
    oversize: list[tuple[Any, int]] = []
    chunks = list(collection_chunks(iter(pairs), max_bytes,
                                    lambda p, n: oversize.append((p, n)),
                                    max_open_bytes=budget))
    return chunks, oversize


@settings(max_examples=150, deadline=None)
@given(pairs=_records, max_bytes=st.integers(300, 4_000),
       budget=st.one_of(st.none(), st.integers(0, 8_000)))
def test_every_record_lands_once_in_its_own_collections_body_under_the_cap(
        pairs, max_bytes, budget) -> None:
    chunks, oversize = _run(pairs, max_bytes, budget)
    seen: dict[str, list[Any]] = {}
    for chunk in chunks:
        assert len(chunk.body) <= max_bytes
        body = json.loads(bytes(chunk.body))
        assert body["collectionName"] == chunk.collection
        assert (body["collectionScope"], body["collectionType"]) == ("account", "catalog")
        assert len(body["records"]) == len(chunk) >= 1
        # The client sends this very body for this collection (no re-serialising).
        envelope = build_insight_import_body(chunk.collection, [], "account", "catalog")
        assert chunk_body(envelope, "records", chunk) is chunk.body
        seen.setdefault(chunk.collection, []).extend(body["records"])
    dropped = {id(p) for p, _ in oversize}
    for name in {n for n, _ in pairs}:  # each collection's records in stream order
        assert seen.get(name, []) == [p[1] for p in pairs
                                      if p[0] == name and id(p) not in dropped]
    assert sum(len(v) for v in seen.values()) + len(oversize) == len(pairs)


def test_interleaved_stores_fill_their_imports_instead_of_cutting_at_each_switch() -> None:
    record = {"key": "K", "json": {"name": "x" * 80}}
    pairs = [("catalog_uk" if i % 2 else "catalog_de", record) for i in range(1_000)]
    chunks, _ = _run(pairs, 20_000)
    total = sum(len(c.body) for c in chunks)
    # The fewest bodies the cap allows per collection, not one per switch (1,000).
    assert len(chunks) <= 2 * (total // 2 // 20_000 + 1)


@pytest.mark.parametrize("max_bytes", [200, 400])
def test_a_record_too_large_for_any_body_is_handed_back_and_the_rest_go(max_bytes) -> None:
    big = ("catalog_uk", {"key": "BIG", "json": {"name": "x" * 500}})
    small = ("catalog_uk", {"key": "S", "json": {"name": "y"}})
    chunks, oversize = _run([small, big, small], max_bytes)
    assert [p for p, _ in oversize] == [big]
    assert sum(len(c) for c in chunks) == 2


def test_many_stores_never_hold_more_than_the_open_budget() -> None:
    """Twenty stores interleaved: the fullest body goes early whenever the open bodies
    together pass the budget, so memory does not grow with the number of stores."""
    record = {"key": "K", "json": {"name": "x" * 80}}
    pairs = [(f"catalog_s{i % 20}", record) for i in range(5_000)]
    consumed = 0

    def stream():
        nonlocal consumed
        for pair in pairs:
            consumed += 1
            yield pair

    budget, size = 30_000, len(json.dumps(record, separators=(",", ":"))) + 1
    emitted = 0
    for chunk in collection_chunks(stream(), 20_000, lambda p, n: None,
                                   max_open_bytes=budget):
        emitted += len(chunk)
        # What was read and not yet handed out fits in the budget (plus one record).
        assert (consumed - emitted) * size <= budget + size
    assert emitted == len(pairs)
