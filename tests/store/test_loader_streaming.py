"""dotsync load: JSON arrays, streaming in chunks, and files of the wrong kind."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotsync.store import LoadError, load_file
from dotsync.store.readers import open_rows

CUSTOMERS = [
    {"customer_id": f"c{i}", "email": f"user{i}@example.com", "first_name": f"N{i}",
     "updated_at": "2024-05-01T10:00:00Z"}
    for i in range(1, 8)
]
ORDER = {
    "order_id": "o1", "customer_email": "jo@example.com", "status": "placed",
    "currency": "GBP", "total": 12.50, "placed_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:00:00Z",
    "lines": [{"sku": "A", "name": "Mug", "quantity": 1, "unit_price": 12.50}],
}


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_loads_pretty_printed_or_not(store, tmp_path, indent):
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(CUSTOMERS, indent=indent), encoding="utf-8")
    report = load_file(store, "customers", path)
    assert report.kind == "json-array"
    assert (report.counts.inserted, report.problems) == (7, [])
    staged = store.read_staged("customers").set_index("customer_id")
    assert staged.loc["c3", "email"] == "user3@example.com"
    assert load_file(store, "customers", path).counts.unchanged == 7


def test_array_numbers_keep_their_digits_and_json_columns_stay_json(store, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text('[{"order_id": "o1", "total": 12.50, "tax": 0.10, "lines": '
                    '[{"sku": "A", "name": "Mug", "quantity": 1, "unit_price": 12.5}]}]',
                    encoding="utf-8")
    report = load_file(store, "orders", path)
    assert report.counts.inserted == 1
    row = store.read_staged("orders").iloc[0]
    assert (row["total"], row["tax"]) == ("12.50", "0.10")
    assert json.loads(row["lines"]) == [{"sku": "A", "name": "Mug", "quantity": 1,
                                        "unit_price": 12.5}]


def test_array_elements_that_are_not_objects_or_bad_are_rejected_by_position(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([CUSTOMERS[0], [1, 2], "x", {"email": "no-key@example.com"},
                                {**CUSTOMERS[1], "loyalty": "gold"}, CUSTOMERS[2]]))
    report = load_file(store, "customers", path)
    assert report.counts.inserted == 2
    assert [(p.unit, p.line) for p in report.problems] == [
        ("element", 2), ("element", 3), ("element", 4), ("element", 5)]
    assert report.problems[2].field == "customer_id"
    assert report.problems[3].field == "loyalty" and "'loyalty'" in report.problems[3].reason
    assert report.problems[3].key == "c2"


def test_a_truncated_array_keeps_what_came_before_and_reports_the_rest(store, tmp_path):
    text = json.dumps(CUSTOMERS[:3], indent=1)
    path = tmp_path / "c.json"
    path.write_text(text[: text.index('"c3"') + 10], encoding="utf-8")
    report = load_file(store, "customers", path, chunk_rows=1)
    assert report.counts.inserted == 2
    (problem,) = report.problems
    assert problem.line == 3 and "not valid JSON" in problem.reason
    assert not report.nothing_loaded


def test_chunks_stream_and_a_key_repeated_across_chunks_counts_once(store, tmp_path):
    rows = [*CUSTOMERS, {**CUSTOMERS[0], "first_name": "Last"}, {**CUSTOMERS[3]}]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = load_file(store, "customers", path, chunk_rows=2)
    assert report.rows == 9 and report.duplicates == 2
    assert (report.counts.inserted, report.counts.updated) == (7, 0)
    staged = store.read_staged("customers").set_index("customer_id")
    assert staged.loc["c1", "first_name"] == "Last"  # the last occurrence wins


@given(rows=st.lists(st.tuples(st.integers(0, 6), st.text(st.characters(
           blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)), max_size=25),
       chunk=st.integers(1, 7))
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_chunking_never_changes_what_is_stored_or_counted(sqlite_store, tmp_path, rows,
                                                          chunk):
    """Whatever the chunk size, the store ends as if the file were read whole: the last
    occurrence of each key, and counts per distinct key."""
    store = sqlite_store
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM customers")
    records = [{"customer_id": f"k{k}", "first_name": name or None} for k, name in rows]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    report = load_file(store, "customers", path, chunk_rows=chunk)
    expected = {r["customer_id"]: r["first_name"] for r in records}
    staged = store.read_staged("customers")
    assert dict(zip(staged["customer_id"], staged["first_name"], strict=True)) == expected
    assert report.counts.inserted == len(expected)
    assert report.duplicates == len(records) - len(expected)


def test_an_orders_file_loaded_as_customers_loads_nothing_and_says_why(store, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([ORDER, {**ORDER, "order_id": "o2"}]), encoding="utf-8")
    report = load_file(store, "customers", path)
    assert report.nothing_loaded
    assert "unknown columns for customers: 'order_id'" in report.problems[0].reason
    assert store.count_staged("customers") == 0


def test_one_object_over_several_lines_is_a_clear_file_error(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CUSTOMERS[0], indent=2), encoding="utf-8")
    with pytest.raises(LoadError, match="one JSON object spread over several lines"):
        load_file(store, "customers", path)


def test_a_bom_before_the_array_is_ignored(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf  \n" + json.dumps(CUSTOMERS[:2]).encode())
    opened = open_rows(path)
    assert opened.kind == "json-array"
    assert [r.record["customer_id"] for r in opened.rows] == ["c1", "c2"]
