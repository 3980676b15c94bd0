"""A file of bad objects keeps a bounded problem list in memory: the first ones, a
count per reason, and every problem streamed to the problems file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.sources import load as source_load
from dotsync.sources.load import load_platform_file


def _orders(good: int, bad: int) -> dict:
    at = "2024-03-01T10:00:00-05:00"
    orders = [{"id": 1000 + i, "email": f"c{i}@example.com", "created_at": at,
               "updated_at": at, "currency": "USD", "total_price": "10.00",
               "financial_status": "paid", "line_items": []} for i in range(good)]
    orders += [{"id": 5000 + i, "email": "x@example.com", "currency": "USD",
                "created_at": "2024-03-01T10:00:00-05:00", "financial_status": "paid",
                "updated_at": "2024-03-01T10:00:00-05:00",
                "line_items": [], "total_price": None if i % 2 else "ten"}
               for i in range(bad)]
    return {"orders": orders}


@pytest.mark.parametrize("workers", [1, 2])
def test_only_the_first_problems_stay_in_memory_all_are_counted_and_written(
        sqlite_store, tmp_path, workers):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(_orders(3, 40), indent=1))
    out = tmp_path / "problems.jsonl"
    report = load_platform_file(sqlite_store, "shopify", "orders", path, workers=workers,
                                batch_rows=7, keep_problems=5, problems_file=out)
    assert (report.rows, report.counts.inserted) == (43, 3)
    assert len(report.problems) == 5 and report.problems_left_out == 35
    assert report.rejected == 40 == sum(report.reasons.values())
    assert report.reasons == {"total_price is missing": 20,
                              "total_price is not a number: 'ten'": 20}
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(p["key"] for p in written) == sorted(str(5000 + i) for i in range(40))
    assert {p["line"] for p in written} == set(range(4, 44))
    assert report.as_dict()["rejected"] == 40 and len(report.as_dict()["problems"]) == 5


def test_the_command_shows_the_first_ones_counts_by_reason_and_writes_all(
        tmp_path, monkeypatch):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setattr(source_load, "KEEP_PROBLEMS", 3)
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(_orders(2, 10), indent=1))
    out = tmp_path / "problems.jsonl"
    result = CliRunner().invoke(main, ["load", "--format", "shopify", "orders", str(path),
                                       "--problems", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 inserted" in result.output and "10 rejected" in result.output
    assert len(out.read_text().splitlines()) == 10
    assert f"... and 7 more (all 10 are in {out})" in result.output
    assert "5  total_price is missing" in result.output
    # A plain load takes --problems too (tests/store/test_loader_problem_list.py); this
    # file of Shopify payloads is no plain orders file, and says so.
    refused = CliRunner().invoke(main, ["load", "orders", str(path), "--problems", str(out)])
    assert refused.exit_code == 2 and "orders" in refused.output


def test_two_processes_give_the_same_report_as_one(tmp_path):
    """The reading process hands mapped objects over in small batches and the writer
    checks and gathers them: counts, duplicates and problems are those of one process."""
    from dotsync.store import Store

    data = _orders(30, 9)
    data["orders"] += data["orders"][:4]  # keys seen again, across handovers
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(data, indent=1))
    reports = []
    for workers in (1, 2):
        store = Store(f"sqlite:///{tmp_path / f'w{workers}.db'}")
        try:
            reports.append(load_platform_file(store, "shopify", "orders", path,
                                              workers=workers, batch_rows=5))
            staged = store.read_staged("orders").sort_values("order_id")
            reports[-1].staged = staged.to_dict("records")
        finally:
            store.dispose()
    one, two = reports
    assert (two.rows, two.duplicates, two.counts) == (one.rows, one.duplicates, one.counts)
    assert two.counts.inserted == 30 and two.rows == 43
    assert [(p.line, p.key, p.reason) for p in two.problems] == \
        [(p.line, p.key, p.reason) for p in one.problems]
    assert two.staged == one.staged
