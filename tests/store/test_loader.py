"""dotsync load: formats, upsert counts, row-level and file-level problems."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dotsync.store import ENTITY_COLUMNS, Ledger, LoadError, load_file
from dotsync.store.schema import KEY_COLUMNS
from dotsync.store.status import pending_mask


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CUSTOMER_HEADER = ["customer_id", "email", "first_name", "updated_at"]
CUSTOMERS = [
    ["c1", "Jo@Example.com", "Jo", "2024-05-01T10:00:00Z"],
    ["c2", "sam@example.com", "Sam", "2024-05-02T10:00:00Z"],
    ["c3", "kim@example.com", "Kim", "2024-05-03T10:00:00Z"],
]


def test_csv_insert_then_reload_changes_nothing(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, CUSTOMERS)
    first = load_file(store, "customers", path)
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (3, 0, 0)
    before = store.read_staged("customers")
    second = load_file(store, "customers", path)
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged) == (0, 0, 3)
    after = store.read_staged("customers")
    pd.testing.assert_frame_equal(
        before.sort_values("customer_id").reset_index(drop=True),
        after.sort_values("customer_id").reset_index(drop=True),
    )


def test_values_are_kept_exactly_as_given(store, tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        CUSTOMER_HEADER + ["last_name"],
        [["c1", " Jo@Example.COM ", "NA", "2024-05-01", "null"]],
    )
    load_file(store, "customers", path)
    row = store.read_staged("customers").iloc[0]
    assert row["email"] == " Jo@Example.COM "
    assert row["first_name"] == "NA"  # not read as a missing value
    assert row["last_name"] == "null"
    assert row["mobile_number"] is None  # a missing optional column is null


def test_edited_file_marks_exactly_the_edited_records_pending(store, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, CUSTOMERS)
    load_file(store, "customers", path)
    ledger = Ledger(store)
    staged = store.read_staged("customers")
    from dotsync.store.status import source_hashes

    hashes = source_hashes("customers", staged)
    ledger.record(
        "customers",
        [
            {"key": k, "state": "synced", "source_hash": h}
            for k, h in zip(staged["customer_id"], hashes, strict=True)
        ],
    )
    assert not pending_mask(ledger, "customers", staged).any()

    edited = [list(r) for r in CUSTOMERS]
    edited[1][2] = "Samantha"
    report = load_file(store, "customers", write_csv(tmp_path / "c2.csv", CUSTOMER_HEADER, edited))
    assert (report.counts.updated, report.counts.unchanged) == (1, 2)
    staged = store.read_staged("customers")
    mask = pending_mask(ledger, "customers", staged)
    assert sorted(staged.loc[mask, "customer_id"]) == ["c2"]


def test_unknown_columns_refuse_the_file_and_name_them(store, tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        CUSTOMER_HEADER + ["loyalty_tier", "Email"],
        [CUSTOMERS[0] + ["gold", "x"]],
    )
    with pytest.raises(LoadError) as err:
        load_file(store, "customers", path)
    assert "'loyalty_tier'" in str(err.value) and "'Email'" in str(err.value)
    assert store.count_staged("customers") == 0


def test_jsonl_with_bad_lines_loads_the_good_ones(store, tmp_path):
    good = {
        "order_id": "o1",
        "customer_email": "jo@example.com",
        "status": "placed",
        "currency": "GBP",
        "total": 12.5,
        "placed_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z",
        "lines": [{"sku": "A", "name": "Mug", "quantity": 1, "unit_price": 12.5}],
    }
    text = "\n".join(
        [
            json.dumps(good),
            '{"order_id": "o2", "status": ',  # truncated
            "[1, 2]",
            json.dumps({**good, "order_id": "o3", "total": 3}),
        ]
    )
    path = tmp_path / "o.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    report = load_file(store, "orders", path)
    assert report.counts.inserted == 2
    assert [p.line for p in report.problems] == [2, 3]
    assert "not valid JSON" in report.problems[0].reason
    staged = store.read_staged("orders").set_index("order_id")
    assert staged.loc["o1", "total"] == "12.5"
    assert staged.loc["o3", "total"] == "3"
    assert json.loads(staged.loc["o1", "lines"])[0]["sku"] == "A"


def test_wrongly_encoded_row_is_rejected_naming_the_field(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(
        b"customer_id,email,first_name,updated_at\n"
        b"c1,jo@example.com,Jo,2024-05-01\n"
        b"c2,sam@example.com,Jos\xe9,2024-05-01\n"
        b"c3,kim@example.com,Kim,2024-05-01\n"
    )
    report = load_file(store, "customers", path)
    assert report.counts.inserted == 2
    (problem,) = report.problems
    assert (problem.line, problem.key, problem.field) == (3, "c2", "first_name")
    assert sorted(store.read_staged("customers")["customer_id"]) == ["c1", "c3"]


def test_rows_without_a_key_are_rejected(store, tmp_path):
    path = write_csv(
        tmp_path / "c.csv", CUSTOMER_HEADER, [CUSTOMERS[0], ["", "x@y.z", "X", "2024"]]
    )
    report = load_file(store, "customers", path)
    assert report.counts.inserted == 1
    assert report.problems[0].field == "customer_id"


def test_parquet_round_trip_keeps_json_columns_as_json_text(store, tmp_path):
    df = pd.DataFrame(
        {
            "certificate_id": ["g1"],
            "recipient_email": ["jo@example.com"],
            "code": ["ABC"],
            "amount": [25.0],
            "currency": ["GBP"],
            "link": ["https://shop.example/g/ABC"],
            "campaign_id": [1001],
            "updated_at": [pd.Timestamp("2024-05-01T10:00:00Z")],
        }
    )
    path = tmp_path / "g.parquet"
    df.to_parquet(path)
    report = load_file(store, "certificates", path)
    assert report.counts.inserted == 1
    row = store.read_staged("certificates").iloc[0]
    assert row["amount"] == "25.0" and row["campaign_id"] == "1001"
    assert row["updated_at"].startswith("2024-05-01T10:00:00")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("c.xlsx", b"PK", "unknown file type"),
        ("c.parquet", b"not parquet at all", "not a readable Parquet file"),
        ("c.csv", b"", "empty"),
        ("c.json", b'{\n  "customer_id": "1"\n}', "one JSON object spread over"),
    ],
)
def test_unreadable_files_give_a_clear_error(store, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        load_file(store, "customers", path)


def test_missing_file_is_a_clear_error(store, tmp_path):
    with pytest.raises(LoadError, match="cannot read"):
        load_file(store, "customers", tmp_path / "nope.csv")


def test_every_spec_column_is_accepted(store, tmp_path):
    for entity, columns in ENTITY_COLUMNS.items():
        row = ["k1" if c in KEY_COLUMNS[entity] else "" for c in columns]
        path = write_csv(tmp_path / f"{entity}.csv", list(columns), [row])
        assert load_file(store, entity, path).counts.inserted == 1
