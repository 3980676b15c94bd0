"""dotsync load from the command line: JSON arrays, and files that load nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dotsync.cli import main

ORDER = {"order_id": "o1", "customer_email": "jo@example.com", "status": "placed",
         "currency": "GBP", "total": "12.50", "placed_at": "2024-05-01T10:00:00Z",
         "updated_at": "2024-05-01T10:00:00Z", "lines": []}


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner()


def test_a_pretty_printed_json_array_loads(runner, tmp_path):
    rows = [{"customer_id": f"c{i}", "email": f"u{i}@example.com",
             "updated_at": "2024-01-01"} for i in range(60)]
    (tmp_path / "customers.json").write_text(json.dumps(rows, indent=2))
    result = runner.invoke(main, ["load", "customers", "customers.json"])
    assert result.exit_code == 0, result.output
    assert "60 rows read" in result.output and "60 inserted" in result.output
    assert "not valid JSON" not in result.output


def test_the_wrong_kind_of_file_exits_1_with_the_first_reasons(runner, tmp_path):
    (tmp_path / "orders.json").write_text(json.dumps(
        [{**ORDER, "order_id": f"o{i}"} for i in range(12)]))
    result = runner.invoke(main, ["load", "customers", "orders.json"])
    assert result.exit_code == 1
    assert "nothing loaded from orders.json: all 12 rows were rejected" in result.output
    assert "element 1: unknown columns for customers: 'order_id'" in result.output
    assert "... and 7 more" in result.output
    as_json = runner.invoke(main, ["load", "customers", "orders.json", "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["rejected"] == 12


def test_a_file_with_some_loadable_rows_still_exits_0(runner, tmp_path):
    (tmp_path / "c.jsonl").write_text('{"customer_id": "c1"}\n{"customer_id": \n')
    result = runner.invoke(main, ["load", "customers", "c.jsonl"])
    assert result.exit_code == 0, result.output
    assert "1 inserted" in result.output and "rejected line 2: not valid JSON" in result.output


def test_a_header_only_csv_is_not_a_failure(runner, tmp_path):
    (tmp_path / "c.csv").write_text("customer_id,email,updated_at\n")
    result = runner.invoke(main, ["load", "customers", "c.csv"])
    assert result.exit_code == 0, result.output
    assert "0 rows read" in result.output


def test_carts_and_products_load_from_the_command_line(runner, tmp_path):
    (tmp_path / "products.csv").write_text(
        "sku,store,name,price,currency,status,updated_at\n"
        "MUG,uk,Mug,4.50,GBP,enabled,2026-01-01\n"
        "MUG,de,Tasse,5.00,EUR,enabled,2026-01-01\n"
        "OLD,,Old,1,GBP,deleted,2026-01-01\n")
    result = runner.invoke(main, ["load", "products", "products.csv"])
    assert result.exit_code == 0, result.output
    assert "3 rows read" in result.output and "2 inserted" in result.output
    assert "rejected line 4: store is required" in result.output
    (tmp_path / "carts.jsonl").write_text(json.dumps(
        {"cart_id": "K1", "customer_email": "jo@example.com", "currency": "GBP",
         "lines": [{"name": "Mug", "quantity": 1, "unit_price": 4.5}],
         "updated_at": "2026-01-01T10:00:00Z"}) + "\n")
    result = runner.invoke(main, ["load", "carts", "carts.jsonl", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 1
