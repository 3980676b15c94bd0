"""Catalogue imports cut per collection: stores interleaved in the change feed still make
full imports, each body one collection's, under the byte cap, every record once."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
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


def _importer(max_bytes: int) -> Any:
    from types import SimpleNamespace

    from dotsync.sync.steps.catalog_import import CatalogImport

    return CatalogImport(SimpleNamespace(  # type: ignore[arg-type]
        options=SimpleNamespace(import_max_bytes=max_bytes)))


def _through(importer: Any, items: Any, on_oversize: Any = lambda p, n: None) -> Any:
    """The items as :class:`BulkImport` streams them into the chunker."""
    def stream() -> Any:
        for item in items:
            payload = importer.payload(item)
            importer.remember(item)
            yield payload
    return importer.chunks(stream(), on_oversize)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(_names, st.text(min_size=1, max_size=20),
                               st.one_of(st.none(), st.text(max_size=64)),
                               st.text(max_size=64)), min_size=1, max_size=40),
       max_bytes=st.integers(400, 3_000), batch=st.integers(1, 7))
def test_what_is_kept_per_record_comes_back_exactly_with_its_import(
        rows: list[tuple[str, str, str | None, str]], max_bytes: int, batch: int) -> None:
    """The settle fields spooled with each body come back unchanged (keys carry U+001F,
    any text, hashes may be missing), one row per record of that very import in its
    order; a record too large for any import is forgotten, and is the one handed back."""
    from dotsync.sync.steps.catalog_import import PRODUCT_SETTLE_FIELDS

    importer = _importer(max_bytes)
    items = [{"key": f"store\x1f{sku}", "collection": name, "_hash": source,
              "_payload_hash": payload, "_payload": {"key": sku, "json": {"n": source}}}
             for name, sku, source, payload in rows]
    oversize: list[Any] = []
    chunks = list(_through(importer, items, lambda p, n: oversize.append(p)))
    for payload in oversize:
        assert importer.forget(payload) == importer.pack(
            next(i for i in items if importer.payload(i) == payload))
    left = [i for i in items if importer.payload(i) not in oversize]
    for name in {i["collection"] for i in left}:
        mine = [i for i in left if i["collection"] == name]
        kept: list[dict[str, Any]] = []
        for chunk in (c for c in chunks if c.collection == name):
            rows_of_chunk = importer.keep(chunk)
            assert len(rows_of_chunk) == len(chunk)
            got = [r for b in rows_of_chunk.batches(batch) for r in b]
            assert [r["key"].split("\x1f", 1)[1] for r in got] == \
                [json.loads(bytes(rec))["key"] for rec in chunk]
            kept += got
        assert kept == [{k: i[k] for k in PRODUCT_SETTLE_FIELDS} for i in mine]


def test_open_bodies_hold_no_settle_fields_in_memory() -> None:
    """While three interleaved stores fill their bodies (nothing goes yet), memory grows
    by the bodies' offsets (8 bytes a record), not by the records' settle fields:
    kept as Python tuples they were ~300 bytes a record, which made a 1M-product run's
    peak grow with the load up to the bodies' cap."""
    import gc
    import tracemalloc

    importer = _importer(10**9)
    traced: dict[int, int] = {}

    def items() -> Any:
        for i in range(40_000):
            if i in (10_000, 40_000 - 1):
                gc.collect()
                traced[i] = tracemalloc.get_traced_memory()[0]
            yield {"key": f"store{i % 3}\x1fSKU-{i:08d}", "collection": f"catalog_s{i % 3}",
                   "_hash": f"{i:016x}", "_payload_hash": f"{i * 7:032x}",
                   "_payload": {"key": f"SKU-{i:08d}", "json": {"price": i}}}

    tracemalloc.start()
    try:
        chunks = list(_through(importer, items()))
    finally:
        tracemalloc.stop()
    assert sum(len(c) for c in chunks) == 40_000
    per_record = (traced[40_000 - 1] - traced[10_000]) / 30_000
    assert per_record < 40, per_record


@respx.mock
def test_a_body_built_on_disk_is_sent_from_its_file_whole_and_again_on_a_retry() -> None:
    """A catalogue body is never read back whole: the client sends it from its file in
    parts, with its length, the same bytes on a retry, byte for byte the plain body."""
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.dotdigital.wire import BODY_PART_BYTES, FileBody, dumps

    base = "https://r1-api.dotdigital.com"
    route = respx.put(f"{base}/insightData/v3/import").mock(side_effect=[
        httpx.ConnectError("refused"),  # nothing was sent: the submission is tried again
        httpx.Response(202, json={"importId": "a"}),
    ])
    records = [{"key": f"SKU-{i}", "json": {"name": f"Mug ☃ {i}", "text": "x" * 300}}
               for i in range(9_000)]
    (chunk,) = collection_chunks(((("catalog_uk", r) for r in records)), 48_000_000,
                                 lambda p, n: None)
    assert isinstance(chunk.body, FileBody) and len(chunk.body) > 2 * BODY_PART_BYTES
    plain = dumps(build_insight_import_body("catalog_uk", records, "account", "catalog"))
    with DotdigitalClient("apiuser-1@apiconnector.com", "pw", endpoint=base,
                          backoff_base=0.001, backoff_max=0.002) as client:
        assert client.import_insight_data("catalog_uk", chunk, scope="account",
                                          type="catalog") == "a"
    assert route.call_count == 2
    for call in route.calls:
        assert call.request.content == plain
        assert call.request.headers["content-length"] == str(len(plain))
        assert "transfer-encoding" not in call.request.headers
